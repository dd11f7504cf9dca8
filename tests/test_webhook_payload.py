"""Repository identity in GitHub payloads: every spelling of one repository is one key."""

from __future__ import annotations

from tests.support.github import load
from webhooks.payload import normalise_repository, repository_keys

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
    ]
    assert {normalise_repository(url) for url in spellings} == {HELLO_WORLD}
    assert normalise_repository("Codertocat/Hello-World") == "codertocat/hello-world"
    assert normalise_repository("file:///srv/Repo.git") == normalise_repository("/srv/repo")
    for other in (
        "https://gitlab.com/Codertocat/Hello-World",
        "https://github.com/Codertocat/Hello-World-2",
        "https://github.com/Octocoders/Hello-World",
    ):
        assert normalise_repository(other) != HELLO_WORLD
    assert normalise_repository("") is None and normalise_repository("https://github.com/") is None
    keys = repository_keys(load("push.json"))
    assert HELLO_WORLD in keys and "codertocat/hello-world" in keys
    assert repository_keys(load("ping-with-organization.json")) == frozenset()
