"""How the pages spell things: short commits, ages, durations, triggers, and the timings of a
deployment's stages (Jinja filters on the pages' blueprint)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from api.pages.site import templates
from controller.deploy.swap import is_start_first
from controller.store.models import App
from controller.store.timefmt import iso

UNITS = ((86400, "d"), (3600, "h"), (60, "min"))
NONE = "\N{EN DASH}"  # a missing value
F = TypeVar("F", bound=Callable[..., Any])


def _filter(name: str) -> Callable[[F], F]:
    def register(function: F) -> F:
        templates.filters[name] = function
        return function

    return register


@_filter("short_sha")
def short_sha(sha: str | None) -> str:
    return (sha or "")[:7] or NONE


@_filter("first_line")
def first_line(text: str | None) -> str:
    line = (text or "").strip().split("\n", 1)[0]
    return line if len(line) <= 72 else line[:71] + "\N{HORIZONTAL ELLIPSIS}"


@_filter("author_name")
def author_name(author: str | None) -> str:
    """`Jane Doe <jane@example.com>` -> `Jane Doe`."""
    name = (author or "").split("<", 1)[0].strip()
    return name or "unknown author"


@_filter("words")
def words(value: object) -> str:
    """`rolled_back` -> `rolled back` (statuses and stages as text)."""
    return str(value).replace("_", " ")


@_filter("css")
def css(value: object) -> str:
    """A status as a class name part: `not deployed` -> `not-deployed`."""
    return str(value).replace(" ", "-")


@_filter("iso")
def iso_filter(moment: datetime | None) -> str:
    return iso(moment) or ""


@_filter("age")
def age(moment: datetime | None, now: datetime | None = None) -> str:
    """`5 min ago`, `3 h ago`, `just now`."""
    if moment is None:
        return NONE
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 60:
        return "just now" if seconds < 10 else f"{seconds} s ago"
    for size, unit in UNITS:
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"  # pragma: no cover (60 s and more matched a unit above)


@_filter("duration")
def duration(seconds: float | None) -> str:
    """`42 s`, `3 min 5 s`, a dash for none."""
    if seconds is None:
        return NONE
    if seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@_filter("trigger_text")
def trigger_text(deployment: Any) -> str:
    """Who or what asked: `manual by alice`, `webhook: push by Jane Doe`, `poll`."""
    trigger = str(_field(deployment, "triggered_by"))
    who = _field(deployment, "requested_by") or ""
    if trigger == "webhook":
        return f"webhook: push by {author_name(_field(deployment, 'commit_author'))}"
    if trigger in ("manual", "rollback") and who:
        return f"{trigger} by {who}"
    return trigger


START_FIRST = ("cloning_repo", "building_image", "starting_new", "stopping_old", "completed")
STOP_FIRST = ("cloning_repo", "building_image", "stopping_old", "starting_new", "completed")


def stage_order(app: App) -> tuple[str, ...]:
    """The stages a deployment of `app` passes through, in order (the live panel's steps)."""
    return START_FIRST if is_start_first(app) else STOP_FIRST


@dataclass(frozen=True)
class Timing:
    stage: str
    began: str
    began_text: str
    took: str


def stage_timings(
    stage_times: dict[str, str], created: datetime | None, finished: datetime | None
) -> list[Timing]:
    """One row per stage that began, in the order they began: when, and how long until the next
    stage began (or the deployment finished). The wait in the queue comes first."""
    began = sorted(
        ((_parse(at), stage) for stage, at in stage_times.items() if _parse(at) is not None),
        key=lambda pair: pair[0] or datetime.min.replace(tzinfo=UTC),
    )
    moments: list[tuple[datetime, str]] = [(at, stage) for at, stage in began if at is not None]
    if created is not None and moments:
        moments.insert(0, (created, "queued"))
    rows: list[Timing] = []
    for index, (at, stage) in enumerate(moments):
        end = moments[index + 1][0] if index + 1 < len(moments) else finished
        took = duration((end - at).total_seconds()) if end is not None else "running"
        rows.append(Timing(stage, iso(at) or "", at.strftime("%H:%M:%S"), took))
    return rows


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)
