"""Retention on a real database (SQLite and PostgreSQL): history beyond what is kept goes, the
active deployment stays, and every instance removes its own log files of what the leader
pruned (with several instances, the leader can only delete the files on its own disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.events.bus import EventBus
from controller.events.deployment_logs import DeploymentLogs
from controller.store.models import App, Deployment, Status
from controller.upkeep.retention import prune_history, prune_orphan_logs

pytestmark = pytest.mark.both_backends


async def test_each_instance_drops_its_own_log_files_of_pruned_deployments(
    db: None, tmp_path: Path
) -> None:
    app = await App.create(name="kept")
    made = [
        await Deployment.create(
            app=app, deployment_number=n, status=Status.SUCCESS, is_active=n == 2
        )
        for n in range(1, 6)
    ]
    leader = DeploymentLogs(tmp_path / "leader", EventBus())
    other = DeploymentLogs(tmp_path / "other", EventBus())
    for deployment in made:  # some ran on one instance, some on the other
        logs = other if deployment.deployment_number % 2 else leader
        logs.open(deployment.id)
        logs.append(deployment.id, f"built #{deployment.deployment_number}")
        logs.close(deployment.id)
    stray = tmp_path / "other" / "notes.txt"
    stray.write_text("not a log of ours\n")

    pruned = await prune_history(app, keep=2)
    # The newest two stay, and the active one (#2) whatever its age.
    assert sorted(pruned) == [made[0].id, made[2].id]
    for deployment_id in pruned:
        leader.delete(deployment_id)  # what the leader's retention does with its own files

    await prune_orphan_logs(other)
    await prune_orphan_logs(leader)
    kept = {d.id for d in made} - set(pruned)
    assert set(leader.stored_ids()) | set(other.stored_ids()) == kept
    assert other.text(made[4].id) == "built #5\n" and stray.exists()
