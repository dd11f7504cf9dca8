"""Who wants to hear about an app, held in memory so the paths that write messages (the webhook
burst among them) ask a dict, not the database. Reloaded whenever the controller changes an
app, a GitHub link or a notification target."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from controller.config import GithubSettings
from controller.notify.events import Event
from controller.source.identity import github_repository
from controller.store.models import App
from controller.store.reporting import Channel, GithubLink, NotificationTarget

PUBLIC_API_HOST = "api.github.com"


def web_host(api_url: str) -> str:
    """The host repositories live on for this API: github.com for api.github.com, else the
    API's own host (GitHub Enterprise serves its API at https://HOST/api/v3)."""
    host = (urlsplit(api_url).hostname or "").lower()
    return "github.com" if host == PUBLIC_API_HOST else host


@dataclass(frozen=True)
class GithubRoute:
    repository: str  # owner/name
    commit_statuses: bool
    deployments: bool


@dataclass(frozen=True)
class TargetRoute:
    id: int
    app_id: int | None
    kind: Channel
    events: frozenset[str]


@dataclass
class Routing:
    names: dict[int, str] = field(default_factory=dict)
    github: dict[int, GithubRoute] = field(default_factory=dict)
    targets: dict[int | None, list[TargetRoute]] = field(default_factory=dict)

    def wants(self, app_id: int) -> bool:
        """Whether anything at all is reported about this app."""
        return app_id in self.github or bool(self.targets.get(app_id) or self.targets.get(None))

    def targets_for(self, app_id: int | None, event: Event) -> list[TargetRoute]:
        """The enabled targets of this app and the global ones that subscribe to `event`."""
        found = [*self.targets.get(app_id, ()), *(self.targets.get(None, ()) if app_id else ())]
        return [target for target in found if event in target.events]


def resolve_github(
    app: App, link: GithubLink | None, settings: GithubSettings
) -> GithubRoute | None:
    """How an app reports to GitHub, or None: it needs a token (its own or the global one) and
    a repository (given, or read from its git URL on that GitHub)."""
    token = (link.token if link else "") or settings.token
    repository = (link.repository if link else "") or github_repository(
        app.git_repository, web_host(settings.api_url)
    )
    if not token or not repository:
        return None
    statuses = settings.commit_statuses
    deployments = settings.deployments
    if link is not None:
        statuses = statuses if link.commit_statuses is None else link.commit_statuses
        deployments = deployments if link.deployments is None else link.deployments
    if not (statuses or deployments):
        return None
    return GithubRoute(repository, statuses, deployments)


async def load_routing(settings: GithubSettings) -> Routing:
    routing = Routing()
    links = {link.app_id: link for link in await GithubLink.all()}
    for app in await App.all().only("id", "name", "git_repository"):
        routing.names[app.id] = app.name
        route = resolve_github(app, links.get(app.id), settings)
        if route is not None:
            routing.github[app.id] = route
    targets: dict[int | None, list[TargetRoute]] = defaultdict(list)
    for target in await NotificationTarget.filter(enabled=True).order_by("id"):
        events = frozenset(name for name in target.events.split(",") if name)
        targets[target.app_id].append(TargetRoute(target.id, target.app_id, target.kind, events))
    routing.targets = dict(targets)
    return routing
