"""JSON shapes of paas records, shared by every API endpoint (and described in openapi.py)."""

from datetime import datetime
from typing import Any

from paas.core.actionlog import Action
from paas.core.applications import AppSummary
from paas.core.certificates import CertificateInfo
from paas.core.formation import effective_limits
from paas.core.models import ApiToken, App, Build, Domain, Formation, Release, Volume
from paas.core.service_backups import Backup
from paas.core.services import ServiceInfo
from paas.runtime.scheduler import Instance, Node


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def app_summary(summary: AppSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "owner": summary.owner,
        "status": summary.status,
        "url": summary.url,
        "current_release": summary.current_version,
        "formation": summary.quantities,
        "last_deploy_at": _time(summary.last_deploy_at),
        "created_at": _time(summary.created_at),
        "crashed_at": _time(summary.crashed_at),
        "crash_reason": summary.crash_reason or None,
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
    return {"name": value.label, "process_type": value.process_type, "number": value.number,
            "release": f"v{value.release}", "state": value.state, "port": value.port,
            "node": value.node}


def node(value: Node) -> dict[str, Any]:
    return {"id": value.id, "hostname": value.hostname, "role": value.role,
            "state": value.state, "availability": value.availability,
            "address": value.address, "leader": value.leader, "tasks": list(value.tasks)}


def domain(value: Domain) -> dict[str, Any]:
    return {"hostname": value.hostname, "created_at": _time(value.created_at)}


def certificate(value: CertificateInfo) -> dict[str, Any]:
    record = value.certificate
    return {"app": record.app.name if record.app else None, "source": record.source,
            "names": list(record.names), "issuer": record.issuer,
            "not_before": _time(record.not_before), "not_after": _time(record.not_after),
            "fingerprint": record.fingerprint, "hsts": record.hsts,
            "covered": list(value.covered), "uncovered": list(value.uncovered),
            "created_at": _time(record.created_at), "updated_at": _time(record.updated_at)}


def collaborators(app: App) -> list[str]:
    return sorted(user.get_username() for user in app.collaborators.all())


def resources(formations: list[Formation]) -> dict[str, dict[str, Any]]:
    """Per-container limits of each process type: ``memory`` and ``cpus`` as ``ps:resize``
    set them (None: not set), ``effective`` what a container gets (defaults included)."""
    return {f.process_type: {"memory": f.memory_limit or None, "cpus": f.cpu_limit,
                             "effective": effective_limits(f)}
            for f in formations}


def volume(value: Volume) -> dict[str, Any]:
    return {"name": value.name, "mount_path": value.mount_path,
            "created_at": _time(value.created_at)}


def action(value: Action, url: str) -> dict[str, Any]:
    """A deploy action; ``url`` is where its status is (its log is at ``url + "/log"``)."""
    failed = value.status == "failed"
    return {
        "id": value.id,
        "kind": value.kind,
        "description": value.description,
        "status": value.status,
        "release": value.release or None,
        "error": {"code": value.error_code, "message": value.error_message} if failed else None,
        "result": value.extra,
        "created_by": value.username or None,
        "created_at": value.created_at,
        "finished_at": value.finished_at or None,
        "url": url,
        "log_url": f"{url}/log",
    }


# --- accounts ------------------------------------------------------------------------------


def token(value: ApiToken) -> dict[str, Any]:
    """A token's record: never its key, which is shown once when it is created."""
    return {"name": value.name, "prefix": value.prefix, "created_at": _time(value.created_at),
            "last_used_at": _time(value.last_used_at), "expires_at": _time(value.expires_at)}


def user(value) -> dict[str, Any]:
    return {"username": value.get_username(), "email": value.email,
            "is_superuser": value.is_superuser, "is_active": value.is_active,
            "date_joined": _time(value.date_joined), "last_login": _time(value.last_login)}


def service(info: ServiceInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "kind": info.kind,
        "owner": info.owner,
        "status": info.status,
        "status_message": info.status_message or None,
        "container": info.container,
        "host": info.host,
        "url_var": info.url_var,
        "url": info.url,
        "volume": info.volume,
        "image": info.image,
        "links": info.links,
        "created_at": _time(info.created_at),
    }


def backup(found: Backup) -> dict[str, Any]:
    return {"id": found.id, "service": found.service, "kind": found.kind, "owner": found.owner,
            "created": found.created, "size": found.size, "sha256": found.sha256,
            "filename": found.filename}
