"""Purging an app's build cache, so that its next build starts from the stack image.

An app's build cache is BuildKit's: the cache mount named after ``cache_id(app)`` (pip and
npm downloads) and the cached dependency and app steps that make code-only pushes fast. Every
buildpack build step carries a marker naming the cache id in its command line, and BuildKit keeps
that command line in each cache record's description, so a purge removes exactly this app's
records from a dockerd that other apps (and other paas installations) share. No database field is
needed, and the space is really freed rather than orphaned under a new cache id.

Images of existing releases keep their layers: rollback still works after a purge.
"""

import hashlib
import logging

from django.conf import settings

from paas.build.buildpack_runner import cache_marker
from paas.core.models import App
from paas.core.platform import platform

logger = logging.getLogger(__name__)


def cache_id(app: App) -> str:
    """The name of the app's build cache. It includes the installation (PAAS_HOME), because
    BuildKit's cache is dockerd-wide and two installations may both have an app "shop" #1."""
    installation = hashlib.sha256(str(settings.PAAS_HOME).encode()).hexdigest()[:8]
    return f"paas-{installation}-{app.name}-{app.pk}"


def purge_build_cache(app: App) -> int:
    """Remove ``app``'s build cache records; return how many were removed.

    The next build reinstalls dependencies from the package index. Records in use by a running
    build are left alone (purge again after it ends). Raises PlatformError(docker_down) if Docker
    is not reachable.
    """
    removed = platform().images.prune_build_cache(cache_marker(cache_id(app)))
    logger.info("purged %d build cache records of %s", removed, app.name)
    return removed
