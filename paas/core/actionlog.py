"""Deploy actions (config change, scale, rollback, resize, storage) run by a worker, with a
live progress log.

A deploy waits for health checks, so it takes seconds to minutes: too long to hold a web request
without telling the user anything. ``start_action`` records the action, then queues the Celery
task with its id, then stores the task id (the build's "row first, then the task" order). The
worker calls ``run_action``, which calls the one ``paas.core`` service for that kind with a
``log`` callable; every line goes to a Redis stream that the dashboard (SSE), the API and the
CLI follow, ending with an ``end`` entry that carries the outcome (as build logs do, see
``buildlog``).

The record is a Redis hash beside the stream, not a database row: an action's outcome is the
release it made (which is in the database) or an error the user has just been shown; both
expire after ACTION_TTL_SECONDS.
"""

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.contrib.auth import get_user_model

from paas.core import formation, releases, volumes
from paas.core.buildlog import LogEvent, follow_lines, follow_stream
from paas.core.models import App, Release
from paas.core.redis_client import get_redis
from paas.errors import NotFound, PaasError, PlatformError, UserError

logger = logging.getLogger(__name__)

RUN_ACTION_TASK = "worker.tasks.run_action"
ACTION_TTL_SECONDS = 24 * 3600
ACTION_ID_LENGTH = 32

Log = Callable[[str], None]


class Status:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = (Status.SUCCEEDED, Status.FAILED)


def record_key(action_id: str) -> str:
    return f"paas:action:{action_id}"


def stream_key(action_id: str) -> str:
    return f"paas:action:{action_id}:log"


@dataclass(frozen=True)
class Action:
    """One queued, running or finished deploy action of an app."""

    id: str
    app: str
    app_id: int
    kind: str
    params: dict
    description: str
    user_id: int | None
    username: str
    status: str
    created_at: str
    finished_at: str = ""
    task_id: str = ""
    release: str = ""  # the version it made live, like "v7", if it made one
    error_code: str = ""
    error_message: str = ""
    error_family: str = ""  # "user" or "platform", as in paas.errors
    extra: dict = field(default_factory=dict)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_hash(cls, action_id: str, fields: dict[bytes, bytes]) -> "Action":
        values = {key.decode(): value.decode() for key, value in fields.items()}
        return cls(
            id=action_id, app=values["app"], app_id=int(values["app_id"]), kind=values["kind"],
            params=json.loads(values.get("params", "{}")),
            description=values.get("description", ""),
            user_id=int(values["user_id"]) if values.get("user_id") else None,
            username=values.get("username", ""), status=values["status"],
            created_at=values.get("created_at", ""), finished_at=values.get("finished_at", ""),
            task_id=values.get("task_id", ""), release=values.get("release", ""),
            error_code=values.get("error_code", ""),
            error_message=values.get("error_message", ""),
            error_family=values.get("error_family", ""),
            extra=json.loads(values.get("extra", "{}")),
        )


# --- what each kind does -------------------------------------------------------------------
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


# --- queueing and running ------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _enqueue(action_id: str) -> str:
    """Send the worker task; return its id. The I/O edge that tests replace."""
    from paas.celery import app as celery_app

    return celery_app.send_task(RUN_ACTION_TASK, args=[action_id]).id


def start_action(app: App, user, kind: str, params: dict, description: str) -> Action:
    """Record a ``kind`` action of ``app`` by ``user``, queue it for a worker, return it.

    ``params`` are the service's arguments as JSON values; ``description`` says what it does
    ("Set GREETING"). Raises ValueError for an unknown kind and PlatformError(redis_down) if
    Redis cannot be reached.
    """
    if kind not in RUNNERS:
        raise ValueError(f"unknown action kind {kind!r}")
    action_id = uuid.uuid4().hex
    fields = {
        "app": app.name, "app_id": str(app.pk), "kind": kind, "params": json.dumps(params),
        "description": description, "user_id": str(user.pk) if user else "",
        "username": user.get_username() if user else "", "status": Status.QUEUED,
        "created_at": _now(),
    }
    client = get_redis()
    try:
        client.hset(record_key(action_id), mapping=fields)
        client.expire(record_key(action_id), ACTION_TTL_SECONDS)
    except redis.RedisError as error:
        raise PlatformError(f"cannot queue the change: {error}", code="redis_down") from None
    try:
        task_id = _enqueue(action_id)
    except Exception as error:  # the broker (Redis) refused: nothing will run it
        logger.exception("could not queue action %s", action_id)
        client.hset(record_key(action_id), mapping={
            "status": Status.FAILED, "error_code": "broker_down", "error_family": "platform",
            "error_message": "paas could not queue this change (broker_down)",
            "finished_at": _now()})
        raise PlatformError(f"cannot queue the change: {error}", code="broker_down") from None
    try:
        client.hset(record_key(action_id), "task_id", task_id)
    except redis.RedisError:
        logger.warning("could not store task id %s of action %s", task_id, action_id)
    return get_action(action_id)


def get_action(action_id: str, app: App | None = None) -> Action:
    """The action ``action_id`` (of ``app`` if given). Raises NotFound(action_not_found),
    also for an expired action, or for one of another app."""
    if len(action_id) != ACTION_ID_LENGTH or not action_id.isalnum():
        raise NotFound(f"no action {action_id!r}", code="action_not_found")
    try:
        fields = get_redis().hgetall(record_key(action_id))
    except redis.RedisError as error:
        raise PlatformError(f"cannot read the change: {error}", code="redis_down") from None
    if not fields:
        raise NotFound(f"no action {action_id!r}", code="action_not_found")
    action = Action.from_hash(action_id, fields)
    if app is not None and action.app_id != app.pk:
        raise NotFound(f"no action {action_id!r}", code="action_not_found")
    return action


class ActionLogWriter:
    """Appends progress lines of one action to its stream."""

    def __init__(self, client: redis.Redis, action_id: str) -> None:
        self.client = client
        self.key = stream_key(action_id)

    def __call__(self, line: str) -> None:
        self.client.xadd(self.key, {"kind": "line", "text": line.rstrip("\n")})

    def end(self, status: str, message: str = "") -> None:
        self.client.xadd(self.key, {"kind": "end", "status": status, "text": message})
        self.client.expire(self.key, ACTION_TTL_SECONDS)


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
    client = get_redis()
    key = record_key(action_id)
    client.hset(key, "status", Status.RUNNING)
    log = ActionLogWriter(client, action_id)
    outcome = {"status": Status.FAILED}
    try:
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
        outcome["finished_at"] = _now()
        client.hset(key, mapping={k: v if isinstance(v, str) else json.dumps(v)
                                  for k, v in outcome.items()})
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


# --- following -----------------------------------------------------------------------------


def follow(action_id: str, block_ms: int = 1000) -> Iterator[LogEvent | None]:
    """Yield the action's log events from the start until its ``end`` event.

    Yields None whenever ``block_ms`` passes without news (for keep-alives and timeouts).
    """
    return follow_stream(get_redis(), stream_key(action_id), block_ms)


def follow_limit_seconds() -> float:
    """How long a follower waits at most: the longest a deploy may hold the app's lock."""
    return settings.PAAS_HEALTHCHECK_TIMEOUT + settings.PAAS_BUILD_TIMEOUT + 600


def log_lines(action: Action) -> Iterator[str | None]:
    """The action's progress lines, live until it ends; None on idle seconds.

    Ends quietly when Redis fails or the action runs past ``follow_limit_seconds``.
    """
    try:
        yield from follow_lines(get_redis(), stream_key(action.id), follow_limit_seconds())
    except redis.RedisError as error:
        logger.warning("following action %s: %s", action.id, error)


def wait(action: Action) -> Action:
    """Block until ``action`` ends (or the follow limit passes); return it as it is then."""
    for _line in log_lines(action):
        pass
    return get_action(action.id)


def raise_for_outcome(action: Action) -> None:
    """Raise the action's error again (UserError, or PlatformError for platform codes)."""
    if action.status == Status.SUCCEEDED:
        return
    if not action.is_finished:
        raise PlatformError("the change is still waiting for a worker", code="action_timeout")
    if action.error_family == "platform":
        raise PlatformError(action.error_message, code=action.error_code)
    if action.error_code.endswith("not_found"):
        raise NotFound(action.error_message, code=action.error_code)
    raise UserError(action.error_message, code=action.error_code)
