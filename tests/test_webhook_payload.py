"""Repository identity in GitHub payloads: every spelling of one repository is one key, and a
payload whose spellings name two repositories is refused."""

from __future__ import annotations

import copy

import pytest

from controller.errors import BadRequest
from controller.source.identity import normalise_repository
from tests.support.github import load
from webhooks import payload as payloads
from webhooks.payload import repository_key

HELLO_WORLD = "github.com/codertocat/hello-world"


def test_repository_spellings_normalise_to_one_key() -> None:
    spellings = [
        "https://github.com/Codertocat/Hello-World.git",
        "https://github.com/codertocat/hello-world",
        "https://user:token@GitHub.com/Codertocat/Hello-World/",
        "https://github.com:443/Codertocat/Hello-World.git/",
        "ssh://git@github.com/Codertocat/Hello-World.git",
        "ssh://git@github.com:22/Codertocat/Hello-World.git",
        "git@github.com:Codertocat/Hello-World.git",
        "github.com:Codertocat/Hello-World",
        "git://github.com/Codertocat/Hello-World.git",
        "https://api.github.com/repos/Codertocat/Hello-World",
    ]
    assert {normalise_repository(url) for url in spellings} == {HELLO_WORLD}
    assert normalise_repository("https://ghe.example/api/v3/repos/o/n") == "ghe.example/o/n"
    assert normalise_repository("Codertocat/Hello-World") == "codertocat/hello-world"
    assert normalise_repository("file:///srv/Repo.git") == normalise_repository("/srv/repo")
    for other in (
        "https://gitlab.com/Codertocat/Hello-World",
        "https://github.com/Codertocat/Hello-World-2",
        "https://github.com/Octocoders/Hello-World",
    ):
        assert normalise_repository(other) != HELLO_WORLD
    assert normalise_repository("") is None and normalise_repository("https://github.com/") is None


def test_a_payload_names_one_repository() -> None:
    for fixture in ("push.json", "push-with-new-branch.json"):
        assert repository_key(load(fixture)) == HELLO_WORLD
    # A ping's `url` is the API's form of the repository: the same one.
    assert load("ping.json")["repository"]["url"].startswith("https://api.github.com/repos/")
    assert repository_key(load("ping.json")) == "github.com/octocoders/hello-world"
    assert repository_key(load("ping-with-organization.json")) is None
    only_name = {"repository": {"full_name": "Codertocat/Hello-World"}}
    assert repository_key(only_name) == "codertocat/hello-world"
    # A local repository (tests, git.allow_local) has no owner: full_name is not compared.
    local = {"repository": {"clone_url": "file:///srv/repo", "full_name": "any/thing"}}
    assert repository_key(local) == "srv/repo"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("clone_url", "https://github.com/victim/app.git"),
        ("ssh_url", "git@github.com:victim/app.git"),
        ("git_url", "git://github.com/victim/app.git"),
        ("html_url", "https://github.com/victim/app"),
        ("url", "https://github.com/victim/app"),
        ("svn_url", "https://gitlab.com/Codertocat/Hello-World"),
        ("full_name", "victim/app"),
    ],
)
def test_spellings_that_disagree_are_refused(key: str, value: str) -> None:
    payload = copy.deepcopy(load("push.json"))
    payload["repository"][key] = value
    with pytest.raises(BadRequest) as refused:
        repository_key(payload)
    assert refused.value.code == "REPOSITORIES_DISAGREE"
    assert key in refused.value.message


def test_no_request_string_is_cached() -> None:
    """Only apps' own URLs are remembered; a payload's spellings never are."""
    payloads.app_repository_key.cache_clear()
    for n in range(50):
        url = f"https://github.com/junk/r{n}.git"
        repository_key({"repository": {"clone_url": url, "full_name": f"junk/r{n}"}})
        normalise_repository(url)
    assert payloads.app_repository_key.cache_info().currsize == 0
    assert not hasattr(normalise_repository, "cache_info")
    payloads.app_repository_key("https://github.com/app/one.git")
    assert payloads.app_repository_key.cache_info().currsize == 1
