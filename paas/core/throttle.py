"""Login throttling: failed sign-ins counted in Redis per username and per client address.

Password logins (the dashboard form, the admin's, ``POST /api/login``) are checked *before* the
password is: once a username or an address has ``PAAS_LOGIN_MAX_FAILURES`` failures within
``PAAS_LOGIN_WINDOW_SECONDS``, every attempt is refused until the window ends, right or wrong,
so guessing gains nothing by continuing.

Tokens (API bearer, git Basic) are 256 random bits that nobody guesses, so a valid token is
never refused or slowed; only failures are counted, and past the limit they are answered 429
instead of 401. That way nobody can lock a user out of git or the API by failing on purpose
with their name.

Each counter is a fixed window that starts at its first failure (``EXPIRE ... NX``, so a crash
between the two commands can never leave a counter without its expiry). If Redis cannot be
reached the throttle lets the attempt through and logs it: the credentials are still checked.
"""

import hashlib
import logging
from dataclasses import dataclass
from typing import cast

import redis
from django.conf import settings

from paas.core.platform import platform
from paas.errors import UserError

logger = logging.getLogger(__name__)

KEY_PREFIX = "paas:login-failures"


class Throttled(UserError):
    """Too many failed sign-ins; ``retry_after`` says in how many seconds to try again."""

    code = "too_many_failures"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(f"too many failed sign-ins; wait {minutes} minute"
                         f"{'s' if minutes != 1 else ''} and try again")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    max_failures: int
    window_seconds: int


def limits() -> Limits:
    return Limits(settings.PAAS_LOGIN_MAX_FAILURES, settings.PAAS_LOGIN_WINDOW_SECONDS)


def _keys(username: str | None, address: str | None) -> list[str]:
    # Hashed: a username typed into a form may be anything, of any length.
    keys = []
    if username:
        keys.append(f"{KEY_PREFIX}:user:{hashlib.sha256(username.encode()).hexdigest()}")
    if address:
        keys.append(f"{KEY_PREFIX}:addr:{address}")
    return keys


def _retry_after(key: str, window: int) -> int:
    ttl = cast(int, platform().redis.ttl(key))
    return ttl if ttl > 0 else window


def check(username: str | None, address: str | None) -> None:
    """Raise Throttled if ``username`` or ``address`` has used up its failures."""
    bounds = limits()
    try:
        for key in _keys(username, address):
            count = cast(bytes | None, platform().redis.get(key))
            if count is not None and int(count) >= bounds.max_failures:
                raise Throttled(_retry_after(key, bounds.window_seconds))
    except redis.RedisError:
        logger.exception("login throttle unavailable; not throttling")


def record_failure(username: str | None, address: str | None) -> None:
    """Count one failed sign-in of ``username`` from ``address``; raise Throttled if either
    had used up its allowed failures already (the caller answers 429 instead of 401)."""
    bounds = limits()
    exceeded = None
    try:
        for key in _keys(username, address):
            count = cast(int, platform().redis.incr(key))
            platform().redis.expire(key, bounds.window_seconds, nx=True)
            if count > bounds.max_failures and exceeded is None:
                exceeded = key
        if exceeded is not None:
            raise Throttled(_retry_after(exceeded, bounds.window_seconds))
    except redis.RedisError:
        logger.exception("login throttle unavailable; failure not counted")


# The router's own address as gunicorn sees it: it serves the control plane at
# PAAS_CONTROL_DOMAIN from loopback, and says who its client was in X-Real-IP.
ROUTER_PEERS = frozenset({"127.0.0.1", "::1"})


def client_address(meta: dict) -> str:
    """The address a request came from: the peer's, or, when the router serves the control
    plane (PAAS_CONTROL_DOMAIN) and the request came from it, the router's client (else every
    client of the router would share one count). Another proxy's header is not believed."""
    peer = str(meta.get("REMOTE_ADDR") or "unknown")
    forwarded = meta.get("HTTP_X_REAL_IP")
    if settings.PAAS_CONTROL_DOMAIN and peer in ROUTER_PEERS and forwarded:
        return str(forwarded)
    return peer
