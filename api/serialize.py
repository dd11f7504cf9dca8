"""JSON shapes of the objects fogbank answers with (snake_case, as the seed's deployments)."""

from __future__ import annotations

from typing import Any

from controller.events.deployment_logs import MASK
from controller.store.models import App, Deployment, EnvVar
from controller.store.timefmt import iso


def deployment_json(d: Deployment) -> dict[str, Any]:
    return {
        "id": d.id,
        "app_id": d.app_id,
        "deployment_number": d.deployment_number,
        "commit_hash": d.commit_hash,
        "commit_message": d.commit_message,
        "commit_author": d.commit_author,
        "triggered_by": str(d.triggered_by),
        "status": str(d.status),
        "stage": str(d.stage),
        "progress": d.progress,
        "error_message": d.error_message,
        "image_tag": d.image_tag,
        "container_id": d.container_id,
        "is_active": d.is_active,
        "rolled_back_from": d.rolled_back_from,
        "duration": d.duration,
        "created_at": iso(d.created_at),
        "started_at": iso(d.started_at),
        "finished_at": iso(d.finished_at),
        "updated_at": iso(d.updated_at),
    }


def app_json(app: App) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "app_type": str(app.app_type),
        "git_repository": app.git_repository,
        "git_branch": app.git_branch,
        "root_directory": app.root_directory,
        "dockerfile_path": app.dockerfile_path,
        "port": app.port,
        "public_port": app.public_port,
        "health_check_path": app.health_check_path,
        "health_timeout_seconds": app.health_timeout_seconds,
        "auto_deploy": app.auto_deploy,
        "template_name": app.template_name,
        "restart_policy": app.restart_policy,
        "memory_limit_mb": app.memory_limit_mb,
        "poll_interval_seconds": app.poll_interval_seconds,
        "update_order": str(app.update_order),
        "stabilization_seconds": app.stabilization_seconds,
        "cpu_limit": app.cpu_limit,
        "created_at": iso(app.created_at),
        "updated_at": iso(app.updated_at),
    }


def env_json(env: EnvVar) -> dict[str, Any]:
    return {
        "id": env.id,
        "app_id": env.app_id,
        "key": env.key,
        "value": MASK if env.is_secret else env.value,
        "is_secret": env.is_secret,
        "is_build_arg": env.is_build_arg,
        "created_at": iso(env.created_at),
        "updated_at": iso(env.updated_at),
    }
