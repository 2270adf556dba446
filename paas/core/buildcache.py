"""An app's build cache: its unguessable name, and purging it so that the next build starts
from the stack image.

An app's build cache is BuildKit's: the cache mount named after ``cache_id(app)`` (pip and
npm downloads) and the cached dependency and app steps that make code-only pushes fast. Every
buildpack build step carries a marker naming the cache id in its command line, and BuildKit keeps
that command line in each cache record's description, so a purge removes exactly this app's
records from a dockerd that other apps (and other paas installations) share. The space is really
freed rather than orphaned under a new cache id.

BuildKit's cache mounts are dockerd-wide: any build that names an id gets that cache, to read
and to write. So the id is an HMAC, under a secret this installation generates once and keeps in
``PAAS_HOME`` (mode 0600), of the app's row id and creation time: nobody who lacks the secret can
name another app's cache, two installations sharing a dockerd never meet, and an app created
again under an old name gets a new, empty cache. (User Dockerfiles may not name cache ids at all:
see ``paas.build.dockerfile_policy``.)

Images of existing releases keep their layers: rollback still works after a purge.
"""

import hmac
import logging
import os
import secrets
import tempfile
from pathlib import Path

from django.conf import settings

from paas.build.buildpack_runner import cache_marker
from paas.core.models import App
from paas.core.platform import platform
from paas.errors import PlatformError

logger = logging.getLogger(__name__)

SECRET_FILE = "build-cache.key"


def cache_id(app: App) -> str:
    """The name of ``app``'s build cache: ``paas-<app>-<HMAC>``.

    The app name is there for the operator reading ``docker buildx du``; the HMAC makes it
    unguessable. Raises PlatformError(build_cache_secret) if the secret cannot be read or made.
    """
    key = _installation_secret(Path(settings.PAAS_HOME))
    message = f"{app.pk}:{app.created_at.isoformat()}".encode()
    digest = hmac.new(key, message, "sha256").hexdigest()[:40]
    return f"paas-{app.name}-{digest}"


def _installation_secret(home: Path) -> bytes:
    """The installation's build cache secret, made on first use by whichever process comes
    first: it is written to a private file and then linked into place, which fails if another
    process linked its own first, so every process keys on the same, complete secret."""
    path = home / SECRET_FILE
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=".build-cache-key-")
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:  # mkstemp: mode 0600
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it just now: use theirs
        finally:
            os.unlink(draft)
    except OSError as error:
        raise PlatformError(f"cannot create the build cache secret {path}: {error}",
                            code="build_cache_secret") from error
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    """Raises FileNotFoundError, or PlatformError(build_cache_secret) for an unusable file."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise PlatformError(f"cannot read the build cache secret {path}: {error}",
                            code="build_cache_secret") from error
    with os.fdopen(descriptor, encoding="ascii") as handle:
        value = handle.read().strip()
    if len(value) < 32:
        raise PlatformError(f"the build cache secret {path} is too short; remove it to make a "
                            "new one (every app's build cache then starts empty)",
                            code="build_cache_secret")
    return value.encode()


def purge_build_cache(app: App) -> int:
    """Remove ``app``'s build cache records; return how many were removed.

    The next build reinstalls dependencies from the package index. Records in use by a running
    build are left alone (purge again after it ends). Raises PlatformError(docker_down) if Docker
    is not reachable.
    """
    removed = platform().images.prune_build_cache(cache_marker(cache_id(app)))
    logger.info("purged %d build cache records of %s", removed, app.name)
    return removed
