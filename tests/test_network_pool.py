"""App networks past Docker's own address pools, against the real daemon: fogbank hands out /24s
of runtime.network_pool, skipping subnets any network of the daemon already has, and says so
clearly when the pool is used up too. (The daemon's own pools are not exhausted here: that would
break every other test sharing this daemon, so the fallback's trigger is not exercised.)"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import docker.errors
import pytest
from docker.types import IPAMConfig, IPAMPool

from controller.config import RuntimeSettings
from controller.errors import EngineError
from controller.runtime import networks
from tests.support.api import unique_name

pytestmark = pytest.mark.slow
POOL = "10.213.252.0/22"  # four /24s


@pytest.fixture
def label(docker_client: docker.DockerClient) -> Iterator[dict[str, str]]:
    labels = {"fogbank.test.pool": unique_name()}
    yield labels
    selector = f"fogbank.test.pool={labels['fogbank.test.pool']}"
    for network in docker_client.networks.list(filters={"label": selector}):
        network.remove()


def subnet_of(client: docker.DockerClient, name: str) -> str:
    (network,) = client.networks.list(names=[name])
    network.reload()
    return str(network.attrs["IPAM"]["Config"][0]["Subnet"])


def test_networks_get_free_subnets_of_the_pool_until_it_is_used_up(
    docker_client: docker.DockerClient, label: dict[str, str]
) -> None:
    squatter = f"{label['fogbank.test.pool']}-squatter"  # someone else holds the pool's second /24
    ipam = IPAMConfig(pool_configs=[IPAMPool(subnet="10.213.253.0/24")])
    docker_client.networks.create(squatter, driver="bridge", labels=label, ipam=ipam)
    names = [f"{label['fogbank.test.pool']}-{n}" for n in range(3)]
    made = [networks.create_in_pool(docker_client, name, label, POOL) for name in names]
    assert made == ["10.213.252.0/24", "10.213.254.0/24", "10.213.255.0/24"]
    assert [subnet_of(docker_client, name) for name in names] == made
    with pytest.raises(EngineError, match=r"no /24 is left in runtime.network_pool 10.213"):
        networks.create_in_pool(docker_client, f"{names[0]}-x", label, POOL)
    # ensure() of an existing network changes nothing, whatever the pool.
    networks.ensure(docker_client, names[0], label, POOL)
    assert subnet_of(docker_client, names[0]) == made[0]


def test_the_pool_setting_is_an_ipv4_network_with_room_for_a_slash_24() -> None:
    assert RuntimeSettings().network_pool == "10.213.0.0/16"
    assert RuntimeSettings(network_pool="").network_pool == ""  # no fallback
    for bad in ("10.213.0.0/25", "fd00::/64", "banana"):
        with pytest.raises(ValueError, match="network_pool"):
            RuntimeSettings(network_pool=bad)
