"""Which commits may be deployed. A pushed or polled commit only when the app's tracked branch
reaches it, checked when it is built (at cloning_repo: the webhook receiver does no git work,
and a branch may be force-pushed between a poll and its build). A deployer's named commit only
when some branch of the repository reaches it, checked at the door; an admin may allow one no
branch reaches. Never a pull request's head or any other object a remote serves by its sha."""

from __future__ import annotations

from controller.deploy.queue import CommitRef
from controller.deploy.staleness import AUTOMATIC_TRIGGERS
from controller.errors import GitError, ValidationFailed
from controller.source.mirror import GitSync
from controller.store.models import App, Deployment


async def check_named(git: GitSync, app: App, sha: str) -> None:
    """ValidationFailed (422 COMMIT_UNREACHABLE) unless a branch of the repository reaches
    commit `sha`."""
    if not await git.on_any_branch(app.name, git.remote_of(app), sha):
        raise ValidationFailed(
            f"commitHash {sha} is not on any branch of the app's repository (an admin may "
            "deploy it anyway with allowUnreachable: true)",
            code="COMMIT_UNREACHABLE",
        )


async def named(
    git: GitSync, app: App, commit: CommitRef | None, allow_unreachable: bool
) -> tuple[str | None, bool]:
    """The sha a deployer named (None: the branch head) and whether to fetch it off any branch
    (an admin allowed it); check_named's refusal unless some branch reaches it."""
    if commit is None or allow_unreachable:
        return (commit.sha if commit else None), commit is not None
    await check_named(git, app, commit.sha)
    return commit.sha, False


async def check_pushed(git: GitSync, app: App, deployment: Deployment) -> None:
    """GitError (the deployment fails) when a push or poll deployment's commit is not on the
    app's tracked branch; manual commits were checked at the door, rollbacks go back on
    purpose."""
    if deployment.triggered_by not in AUTOMATIC_TRIGGERS:
        return
    sha, branch = deployment.commit_hash, app.git_branch
    if not await git.on_branch(app.name, git.remote_of(app), branch, sha):
        raise GitError(
            f"commit {sha[:12]} is not on branch '{branch}' of the repository; pushes and polls "
            "deploy only commits the tracked branch reaches (not a pull request's head)"
        )
