"""Deploy actions: config changes, scaling, rollback, resizing and storage changes, each run
by a worker with a live progress log (``paas.core.actionlog``).

A deploy waits for health checks, so it takes seconds to minutes: too long to hold a web
request without telling the user anything. Each ``start_*`` function checks its input (a typo
is refused at once, not in the worker), describes the change in the words the dashboard, the
API and the release list use, records the action, queues the Celery task with its id, then
stores the task id (the build's "row first, then the task" order). The worker calls
``run_action``, which calls the one ``paas.core`` service for that kind with a ``log`` callable.
The dashboard, the API and the CLI only parse their input and show the outcome.
"""

import logging
import re
from collections.abc import Callable
from typing import Any

import redis
from django.contrib.auth import get_user_model

from paas.core import formation, releases, volumes
from paas.core.actionlog import (
    Action,
    ActionLogWriter,
    Status,
    create_record,
    get_action,
    heartbeat_key,
    now,
    update_record,
)
from paas.core.heartbeat import heartbeat
from paas.core.models import App, Release
from paas.core.platform import platform
from paas.errors import NotFound, PaasError, PlatformError, UserError
from paas.runtime.scheduler import Log

logger = logging.getLogger(__name__)

RUN_ACTION_TASK = "worker.tasks.run_action"


# --- starting each kind --------------------------------------------------------------------


def start_config_change(app: App, user, changes: dict[str, str], unset: list[str]) -> Action:
    """Queue setting ``changes`` and unsetting ``unset`` (a new release, restarted).

    Raises what ``releases.check_config_change`` raises (a bad key or value, a config too
    large), UserError(invalid_request) for an empty change.
    """
    releases.check_config_change(app, changes, unset)
    if not changes and not unset:
        raise UserError("give config vars to set or unset", code="invalid_request")
    return _start(app, user, "config", {"set": changes, "unset": unset},
                  releases.describe_config_change(changes, unset))


def start_scale(app: App, user, quantities: dict[str, Any]) -> Action:
    """Queue scaling to ``quantities`` (process type -> count).

    Raises what ``formation.check_quantities`` raises, and UserError(invalid_request) for
    an empty change.
    """
    if not quantities:
        raise UserError('give quantities, like {"web": 2}', code="invalid_request")
    formation.check_quantities(app, quantities)
    return _start(app, user, "scale", {"quantities": quantities},
                  f"Scale to {describe_quantities(quantities)}")


def start_resize(app: App, user, process_type: str, memory: str | float | None,
                 cpus: str | float | None) -> Action:
    """Queue new limits for ``process_type``: ``memory`` like "256m" (a bare number is
    refused: it needs a unit), ``cpus`` like 0.5; None keeps a limit, "" removes it.

    Raises UserError(invalid_limit / unknown_process_type / invalid_request).
    """
    if memory is None and cpus is None:
        raise UserError('give a memory limit (like "256m") and/or a CPU limit (like 0.5); '
                        '"" removes a limit', code="invalid_request")
    formation.check_limits(app, process_type, memory, cpus)
    parts = [f"memory {memory or 'unlimited'}"] if memory is not None else []
    if cpus is not None:
        parts.append(f"cpus {cpus or 'unlimited'}")
    return _start(app, user, "resize",
                  {"process_type": process_type, "memory": memory, "cpus": cpus},
                  f"Resize {process_type}: {', '.join(parts)}")


def start_rollback(app: App, user, version: int | str) -> Action:
    """Queue a rollback to release ``version`` (3, "3" or "v3").

    Raises UserError(invalid_request) for something that is no version, NotFound
    (release_not_found) for a release the app does not have.
    """
    number = parse_version(version)
    if not app.releases.filter(number=number).exists():
        raise NotFound(f"{app.name} has no release v{number}", code="release_not_found")
    return _start(app, user, "rollback", {"version": number}, f"Roll back to v{number}")


def start_volume_add(app: App, user, name: str, mount_path: str) -> Action:
    """Queue mounting a new volume ``name`` at ``mount_path``.

    Raises UserError(invalid_volume / invalid_mount_path / volume_exists).
    """
    volumes.check_new_volume(app, name, mount_path)
    return _start(app, user, "storage:add", {"name": name, "mount_path": mount_path},
                  f"Mount {name} at {mount_path}")


def start_volume_remove(app: App, user, name: str, delete_data: bool) -> Action:
    """Queue unmounting volume ``name`` (deleting its data too with ``delete_data``).

    Raises NotFound(volume_not_found).
    """
    if not app.volumes.filter(name=name).exists():
        raise NotFound(f"{app.name} has no volume {name!r}", code="volume_not_found")
    what = "Remove" if delete_data else "Unmount"
    return _start(app, user, "storage:remove", {"name": name, "delete_data": delete_data},
                  f"{what} volume {name}")


def describe_quantities(quantities: dict[str, Any]) -> str:
    """ "web=2, worker=1" """
    return ", ".join(f"{process_type}={n}" for process_type, n in sorted(quantities.items()))


VERSION_RE = re.compile(r"^[vV]?[1-9][0-9]{0,8}$")
MAX_VERSION = 999_999_999


def parse_version(version: int | str) -> int:
    """The release number in 3, "3" or "v3". Raises UserError(invalid_request) otherwise."""
    if isinstance(version, str) and VERSION_RE.fullmatch(version):
        return int(version.lstrip("vV"))
    if isinstance(version, int) and not isinstance(version, bool) \
            and 1 <= version <= MAX_VERSION:
        return version
    # Neither " 3", "3.0", "-1", "v1_000" nor 10**30 (which no database column holds).
    raise UserError('give the version to roll back to, like "v3"', code="invalid_request")


def outcome_message(action: Action) -> str:
    """What a finished action did, in the words of the button that started it."""
    app, params = action.app, action.params
    if action.status == Status.FAILED:
        return action.error_message
    if action.kind == "config":
        return f"{action.description} and restarted {app}." if action.release \
            else f"{action.description}; it takes effect on the first deploy."
    if action.kind == "scale":
        return f"Scaled to {describe_quantities(params['quantities'])}."
    if action.kind == "rollback":
        return f"Rolled back to v{params['version']} (now {action.release})."
    if action.kind == "resize":
        return f"Resized {params['process_type']} of {app}."
    if action.kind == "storage:add":
        return f"Mounted {params['name']} at {params['mount_path']}."
    return f"Removed volume {params['name']}." if params.get("delete_data") \
        else f"Unmounted {params['name']}; its data is kept."


def _start(app: App, user, kind: str, params: dict, description: str) -> Action:
    """Record a ``kind`` action of ``app`` by ``user``, queue it for a worker, return it.

    Raises PlatformError(redis_down) if Redis cannot be reached, PlatformError(broker_down)
    if the broker refuses the task (the action is then recorded as failed).
    """
    action_id = create_record(app, user, kind, params, description)
    try:
        task_id = platform().tasks.send(RUN_ACTION_TASK, [action_id])
    except Exception as error:  # the broker (Redis) refused: nothing will run it
        logger.exception("could not queue action %s", action_id)
        update_record(action_id, status=Status.FAILED, error_code="broker_down",
                      error_family="platform", finished_at=now(),
                      error_message="paas could not queue this change (broker_down)")
        raise PlatformError(f"cannot queue the change: {error}", code="broker_down") from None
    try:
        update_record(action_id, task_id=task_id)
    except redis.RedisError:
        logger.warning("could not store task id %s of action %s", task_id, action_id)
    return get_action(action_id)


# --- running -------------------------------------------------------------------------------
# Each runner calls one service and returns the release it made live (or None) and what else
# the caller should know (the new formation, say).


def _config(app: App, user, params: dict, log: Log) -> tuple[Release | None, dict]:
    release = releases.set_config(app, params.get("set", {}), params.get("unset", []),
                                  user=user, log=log)
    return release, {"config_keys": sorted(app.config)}


def _scale(app: App, user, params: dict, log: Log) -> tuple[Release | None, dict]:
    formation.scale(app, params["quantities"], log=log)
    return None, {"formation": _formation(app)}


def _rollback(app: App, user, params: dict, log: Log) -> tuple[Release | None, dict]:
    return releases.rollback(app, params["version"], user=user, log=log), {}


def _resize(app: App, user, params: dict, log: Log) -> tuple[Release | None, dict]:
    formation.set_limits(app, params["process_type"], memory=params.get("memory"),
                         cpus=params.get("cpus"), log=log)
    return None, {"formation": _formation(app)}


def _storage_add(app: App, user, params: dict, log: Log) -> tuple[Release | None, dict]:
    volumes.add_volume(app, params["name"], params["mount_path"], log=log)
    return None, {}


def _storage_remove(app: App, user, params: dict, log: Log) -> tuple[Release | None, dict]:
    volumes.remove_volume(app, params["name"], delete_data=bool(params.get("delete_data")),
                          log=log)
    return None, {}


def _formation(app: App) -> dict[str, int]:
    return {f.process_type: f.quantity for f in app.formations.all()}


RUNNERS: dict[str, Callable[[App, object, dict, Log], tuple[Release | None, dict]]] = {
    "config": _config,
    "scale": _scale,
    "rollback": _rollback,
    "resize": _resize,
    "storage:add": _storage_add,
    "storage:remove": _storage_remove,
}


# --- the worker's side ---------------------------------------------------------------------


def run_action(action_id: str) -> None:
    """Run queued action ``action_id`` (the worker task); record its outcome.

    Never raises for a failing change: the outcome is the action's status and the end of its
    log. An action that is no longer queued (a redelivered task) is not run again.
    """
    try:
        action = get_action(action_id)
    except NotFound:
        logger.warning("action %s expired before a worker took it", action_id)
        return
    if action.status != Status.QUEUED:
        logger.info("action %s is %s already; not running it again", action_id, action.status)
        return
    update_record(action_id, status=Status.RUNNING)
    log = ActionLogWriter(platform().redis, action_id)
    outcome = {"status": Status.FAILED}
    try:
        with heartbeat(heartbeat_key(action_id)):
            outcome.update(_run(action, log))
        outcome["status"] = Status.SUCCEEDED
    except UserError as error:
        outcome.update(error_code=error.code, error_message=str(error), error_family="user")
        log(f" !     {error}")
    except Exception as error:
        code = error.code if isinstance(error, PaasError) else "platform_error"
        logger.exception("action %s (%s of %s) failed", action_id, action.kind, action.app)
        message = (f"paas could not finish this change ({code}); the operator can find "
                   "details in the worker log")
        outcome.update(error_code=code, error_message=message, error_family="platform")
        log(f" !     {message}")
    finally:
        outcome["finished_at"] = now()
        update_record(action_id, **outcome)
        log.end(outcome["status"], outcome.get("error_message", ""))


def _run(action: Action, log: Log) -> dict:
    app = App.objects.filter(pk=action.app_id).first()
    if app is None:
        raise NotFound(f"app {action.app!r} no longer exists", code="app_not_found")
    user = get_user_model().objects.filter(pk=action.user_id).first() \
        if action.user_id else None
    log(f"-----> {action.description} ({app.name})")
    release, extra = RUNNERS[action.kind](app, user, action.params, log)
    if release is not None:
        log(f"-----> {release.version} is live")
    else:
        log("-----> Done")
    return {"release": release.version if release else "", "extra": extra}
