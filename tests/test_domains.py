"""The Domains API against the real app: validation and roles in the envelope, and a created
domain routed by the real edge (Caddy) to the app's active deployment (real Docker)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.accounts import auth
from controller.store.models import Deployment, Domain, Role
from tests.support.api import assert_error, create_web_app, services_of
from tests.support.deployed import DeployedWebApp
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow


async def create_domain(
    client: QuartClient, headers: dict[str, str], app_id: Any, hostname: Any
) -> Any:
    return await client.post(
        "/api/apps/domains/create", json={"appId": app_id, "hostname": hostname}, headers=headers
    )


async def edge_get(app: Quart, host: str) -> httpx.Response:
    port = services_of(app).settings.edge.http_port
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(f"http://127.0.0.1:{port}/", headers={"Host": host})


@pytest.mark.parametrize(
    ("hostname", "reason"),
    [
        ("my app.example.com", "spaces"),
        (" app.example.com", "spaces"),
        ("https://app.example.com", "no scheme"),
        ("app.example.com:8080", "no scheme, port or path"),
        ("app.example.com/path", "no scheme, port or path"),
        ("a" * 250 + ".com", "at most 253"),
        ("a" * 64 + ".example.com", "1-63"),
        ("-app.example.com", "not starting or ending with '-'"),
        ("app..example.com", "1-63"),
        ("app.example.com.", "1-63"),
        ("*.example.com", "1-63"),
        ("ap_p.example.com", "1-63"),
        ("10.0.0.1", "not an IP address"),
        ("", "required"),
    ],
)
async def test_bad_hostnames_are_422(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo, hostname: str, reason: str
) -> None:
    created = await create_web_app(client, admin, "shop", web_repo)
    body = await assert_error(
        await create_domain(client, admin, created["id"], hostname), 422, "VALIDATION_FAILED"
    )
    assert reason in body["message"], body["message"]
    assert await Domain.all().count() == 0


async def test_create_get_delete_and_conflicts(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    shop = await create_web_app(client, admin, "shop", web_repo)
    blog = await create_web_app(client, admin, "blog", web_repo)

    made = await create_domain(client, admin, shop["id"], "Shop.Example.com")
    assert made.status_code == 201, await made.get_data(as_text=True)
    body = await made.get_json()
    assert body["success"] is True and body["message"] == "Domain created"
    domain = body["data"]
    assert domain["hostname"] == "shop.example.com" and domain["app_id"] == shop["id"]
    assert domain["created_at"].endswith("Z")
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters
    assert (await create_domain(client, admin, shop["id"], longest)).status_code == 201

    # Unique across apps, whatever the case.
    for app_id, name in ((shop["id"], "shop.example.com"), (blog["id"], "SHOP.example.com")):
        await assert_error(await create_domain(client, admin, app_id, name), 409, "DOMAIN_EXISTS")
    await assert_error(await create_domain(client, admin, 999, "x.example.com"), 404)
    await assert_error(await create_domain(client, admin, "1", "x.example.com"), 422)
    await assert_error(await create_domain(client, admin, shop["id"], 42), 422)
    await assert_error(
        await client.post(
            "/api/apps/domains/create",
            json={"appId": shop["id"], "hostname": "x.example.com", "port": 80},
            headers=admin,
        ),
        422,
    )
    database = await client.post(
        "/api/apps/create",
        json={"name": "db", "appType": "database", "templateName": "postgres"},
        headers=admin,
    )
    assert database.status_code == 201, await database.get_data(as_text=True)
    db_id = (await database.get_json())["data"]["id"]
    message = (
        await assert_error(await create_domain(client, admin, db_id, "db.example.com"), 422)
    )["message"]
    assert "web apps" in message

    listed = await client.post("/api/apps/domains/get", json={"appId": shop["id"]}, headers=admin)
    names = [d["hostname"] for d in (await listed.get_json())["data"]]
    assert names == sorted([longest, "shop.example.com"])
    empty = await client.post("/api/apps/domains/get", json={"appId": blog["id"]}, headers=admin)
    assert (await empty.get_json())["data"] == []

    gone = await client.delete(
        "/api/apps/domains/delete", json={"domainId": domain["id"]}, headers=admin
    )
    assert gone.status_code == 200 and (await gone.get_json())["data"] == {"id": domain["id"]}
    await assert_error(
        await client.delete(
            "/api/apps/domains/delete", json={"domainId": domain["id"]}, headers=admin
        ),
        404,
        "DOMAIN_NOT_FOUND",
    )
    # Freed: another app may take the name now.
    assert (await create_domain(client, admin, blog["id"], "shop.example.com")).status_code == 201


async def test_viewers_read_admins_write(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    shop = await create_web_app(client, admin, "shop", web_repo)
    made = await (await create_domain(client, admin, shop["id"], "shop.example.com")).get_json()
    deployer = await auth.create_user("dep", "password123", Role.DEPLOYER)
    as_deployer = {"Authorization": f"Bearer {await auth.create_api_token(deployer, 't')}"}
    viewer = await auth.create_user("view", "password123", Role.VIEWER)
    as_viewer = {"Authorization": f"Bearer {await auth.create_api_token(viewer, 't')}"}

    listed = await client.post(
        "/api/apps/domains/get", json={"appId": shop["id"]}, headers=as_viewer
    )
    assert listed.status_code == 200
    await assert_error(
        await create_domain(client, as_deployer, shop["id"], "b.example.com"), 403, "FORBIDDEN"
    )
    await assert_error(
        await client.delete(
            "/api/apps/domains/delete", json={"domainId": made["data"]["id"]}, headers=as_viewer
        ),
        403,
        "FORBIDDEN",
    )
    assert await Domain.all().count() == 1


@pytest.mark.web_app(publicPort=None)
async def test_a_domain_routes_through_the_edge_to_the_active_deployment(
    app: Quart, client: QuartClient, deployed_web_app: DeployedWebApp
) -> None:
    web = deployed_web_app
    done = await Deployment.get(id=web.deployment_id)
    assert done.host_port is not None

    made = await create_domain(client, web.headers, web.app_id, f"{web.name}.example.test")
    assert made.status_code == 201, await made.get_data(as_text=True)
    assert (await made.get_json())["message"] == "Domain created"
    served = await edge_get(app, f"{web.name}.example.test")
    assert (served.status_code, served.text) == (200, "version one\n")
    assert (await edge_get(app, "other.example.test")).status_code == 404

    domain_id = (await made.get_json())["data"]["id"]
    await client.delete(
        "/api/apps/domains/delete", json={"domainId": domain_id}, headers=web.headers
    )
    assert (await edge_get(app, f"{web.name}.example.test")).status_code == 404
