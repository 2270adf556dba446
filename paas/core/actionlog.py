"""The record and the progress log of a deploy action (config change, scale, rollback,
resize, storage change): what the dashboard, the API and the CLI read and follow.

The record is a Redis hash; the log a Redis stream beside it, in the shape of build logs (see
``buildlog``), ending with an ``end`` entry that carries the outcome. Both expire after
ACTION_TTL_SECONDS: an action's outcome is the release it made (which is in the database) or
an error the user has just been shown. What each kind of action does, and running it, is
``paas.core.actions``.
"""

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import redis

from paas.core.buildlog import MAX_STREAM_ENTRIES, end_stream, follow_lines
from paas.core.heartbeat import LOST_WORKER_CHECK_SECONDS, alive
from paas.core.models import App
from paas.core.platform import platform
from paas.errors import NotFound, PlatformError, UserError

logger = logging.getLogger(__name__)

ACTION_TTL_SECONDS = 24 * 3600
ACTION_ID_LENGTH = 32
WORKER_LOST_MESSAGE = ("the change stopped: its worker went away; what served before serves "
                       "on, so try again")


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


def heartbeat_key(action_id: str) -> str:
    return f"paas:action:{action_id}:alive"


def now() -> str:
    return datetime.now(UTC).isoformat()


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


def create_record(app: App, user, kind: str, params: dict, description: str) -> str:
    """Record a queued ``kind`` action of ``app`` by ``user``; return its id.

    Raises PlatformError(redis_down) if Redis cannot be reached.
    """
    action_id = uuid.uuid4().hex
    fields = {
        "app": app.name, "app_id": str(app.pk), "kind": kind, "params": json.dumps(params),
        "description": description, "user_id": str(user.pk) if user else "",
        "username": user.get_username() if user else "", "status": Status.QUEUED,
        "created_at": now(),
    }
    client = platform().redis
    try:
        client.hset(record_key(action_id), mapping=fields)
        client.expire(record_key(action_id), ACTION_TTL_SECONDS)
    except redis.RedisError as error:
        raise PlatformError(f"cannot queue the change: {error}", code="redis_down") from None
    return action_id


def update_record(action_id: str, **fields: object) -> None:
    """Set fields of the action's record (JSON for what is not a string)."""
    platform().redis.hset(record_key(action_id), mapping={
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in fields.items()})


def get_action(action_id: str, app: App | None = None) -> Action:
    """The action ``action_id`` (of ``app`` if given). Raises NotFound(action_not_found),
    also for an expired action, or for one of another app."""
    if len(action_id) != ACTION_ID_LENGTH or not action_id.isalnum():
        raise NotFound(f"no action {action_id!r}", code="action_not_found")
    try:
        # redis-py types each reply as maybe-awaitable; this client is synchronous.
        fields = cast(dict[bytes, bytes], platform().redis.hgetall(record_key(action_id)))
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
        self.client.xadd(self.key, {"kind": "line", "text": line.rstrip("\n")},
                         maxlen=MAX_STREAM_ENTRIES, approximate=True)

    def end(self, status: str, message: str = "") -> None:
        self.client.xadd(self.key, {"kind": "end", "status": status, "text": message})
        self.client.expire(self.key, ACTION_TTL_SECONDS)


def log_lines(action: Action) -> Iterator[str | None]:
    """The action's progress lines, live until it ends; None on idle seconds.

    Ends quietly when Redis fails or the action runs past ``buildlog.follow_limit_seconds``,
    and soon after its worker dies (see ``fail_if_worker_lost``).
    """
    quiet_seconds = 0
    try:
        for line in follow_lines(platform().redis, stream_key(action.id)):
            if line is None:
                quiet_seconds += 1
                if quiet_seconds % LOST_WORKER_CHECK_SECONDS == 0:
                    fail_if_worker_lost(action.id)  # ends the stream if it did
            else:
                quiet_seconds = 0
            yield line
    except redis.RedisError as error:
        logger.warning("following action %s: %s", action.id, error)


def fail_if_worker_lost(action_id: str) -> bool:
    """Record a running action whose worker stopped heart-beating as failed and end its log,
    so whoever follows it hears. Returns whether it did."""
    if alive(heartbeat_key(action_id)) or get_action(action_id).status != Status.RUNNING:
        return False
    logger.warning("action %s lost its worker", action_id)
    update_record(action_id, status=Status.FAILED, error_code="worker_lost",
                  error_family="platform", error_message=WORKER_LOST_MESSAGE,
                  finished_at=now())
    end_stream(platform().redis, stream_key(action_id), Status.FAILED, WORKER_LOST_MESSAGE)
    return True


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
