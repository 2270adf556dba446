"""JSON shapes of paas records, shared by every API endpoint (and described in openapi.py)."""

from datetime import datetime
from typing import Any

from paas.core.applications import AppSummary, Instance
from paas.core.models import App, Build, Domain, Release


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def app_summary(summary: AppSummary) -> dict[str, Any]:
    release = summary.current_release
    return {
        "name": summary.app.name,
        "owner": _username(summary.app.owner),
        "status": summary.status,
        "url": summary.url,
        "current_release": release.version if release else None,
        "formation": summary.quantities,
        "last_deploy_at": _time(summary.last_deploy_at),
        "created_at": _time(summary.app.created_at),
    }


def release(value: Release) -> dict[str, Any]:
    return {
        "version": value.version,
        "number": value.number,
        "status": value.status,
        "description": value.description,
        "image": value.image,
        "process_types": value.process_types,
        "config_keys": sorted(value.config_snapshot),
        "build_id": value.build_id,
        "failure_reason": value.failure_reason,
        "created_by": _username(value.created_by),
        "created_at": _time(value.created_at),
    }


def build(value: Build) -> dict[str, Any]:
    return {
        "id": value.pk,
        "status": value.status,
        "commit_sha": value.commit_sha,
        "branch": value.branch,
        "builder": value.builder,
        "error_code": value.error_code,
        "error_message": value.error_message,
        "created_by": _username(value.created_by),
        "created_at": _time(value.created_at),
        "started_at": _time(value.started_at),
        "finished_at": _time(value.finished_at),
    }


def instance(value: Instance) -> dict[str, Any]:
    return {"name": value.name, "process_type": value.process_type, "number": value.number,
            "release": f"v{value.release}", "state": value.state, "port": value.port}


def domain(value: Domain) -> dict[str, Any]:
    return {"hostname": value.hostname, "created_at": _time(value.created_at)}


def collaborators(app: App) -> list[str]:
    return sorted(user.get_username() for user in app.collaborators.all())
