"""The build gate in git's receive-pack: a push to the deploy branch moves its ref only after
the pushed commit was built and deployed.

dulwich's ReceivePackHandler stores the pack, then calls ``_on_update`` for each ref before
moving it; returning an error message there leaves that ref where it was and reports the message
to ``git push``. While the build runs, its log is relayed to the pusher on the progress side
band, where git prints it as ``remote: ...`` lines.
"""

import logging
import time
from pathlib import Path

from django.conf import settings
from dulwich.protocol import CAPABILITY_SIDE_BAND_64K, SIDE_BAND_CHANNEL_PROGRESS
from dulwich.repo import Repo
from dulwich.server import Backend, ReceivePackHandler
from redis.lock import Lock

from paas.core.buildguard import fail_if_worker_lost
from paas.core.buildlog import follow
from paas.core.builds import start_build
from paas.core.models import App, Build
from paas.core.redis_client import get_redis
from paas.errors import PaasError

logger = logging.getLogger(__name__)

DEPLOY_BRANCHES = (b"refs/heads/main", b"refs/heads/master")
ZERO_SHA = b"0" * 40
# How long past the build timeout the receiver waits for a build's end before giving up.
FOLLOW_GRACE_SECONDS = 15 * 60
# How many quiet seconds pass between checks that a running build still has its worker.
LOST_WORKER_CHECK_SECONDS = 5


class SingleRepoBackend(Backend):
    """A dulwich backend serving exactly one repository, whatever path is asked for."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open_repository(self, path: str) -> Repo:
        return Repo(str(self.path))


def ensure_repository(path: Path) -> None:
    """Create the bare repository at ``path`` if missing, with HEAD on main."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    repo = Repo.init_bare(str(path), mkdir=True)
    repo.refs.set_symbolic_ref(b"HEAD", b"refs/heads/main")
    repo.close()


class DeployingReceivePackHandler(ReceivePackHandler):
    """receive-pack that builds and deploys pushes to main/master before moving the ref."""

    def __init__(self, backend: Backend, args, proto, *, app: App, user, **kwargs) -> None:
        super().__init__(backend, args, proto, **kwargs)
        self.app = app
        self.user = user
        self._push_lock: Lock | None = None

    def handle(self) -> None:
        try:
            super().handle()
        finally:
            if self._push_lock is not None and self._push_lock.owned():
                self._push_lock.release()

    def say(self, text: str) -> None:
        """Show ``text`` to the pusher as ``remote:`` lines."""
        if self._client_capabilities is not None and self.has_capability(
                CAPABILITY_SIDE_BAND_64K):
            for line in text.splitlines():
                self.proto.write_sideband(SIDE_BAND_CHANNEL_PROGRESS, line.encode() + b"\n")

    def _on_update(self, ref_name: bytes, old_sha: bytes, new_sha: bytes) -> bytes | None:
        if ref_name not in DEPLOY_BRANCHES:
            return None  # other branches are stored without a build
        if new_sha == ZERO_SHA:
            return b"the deploy branch cannot be deleted (destroy the app instead)"
        try:
            return self._build_and_deploy(ref_name, old_sha, new_sha)
        except PaasError as error:
            self.say(f" !     {error}")
            return str(error).encode()
        except Exception:
            logger.exception("push to %s failed", self.app.name)
            self.say(" !     paas failed to handle this push (platform error)")
            return b"platform error"

    def _build_and_deploy(self, ref_name: bytes, old_sha: bytes, new_sha: bytes) -> bytes | None:
        self._acquire_push_lock()
        # Another push may have moved the branch while this one waited its turn: building
        # on a stale base would deploy code the ref will then refuse to point at.
        current = self.repo.refs.as_dict().get(ref_name, ZERO_SHA)
        if current != old_sha:
            return b"the branch moved while this push waited; fetch and push again"
        branch = ref_name.decode().removeprefix("refs/heads/")
        build = start_build(self.app, new_sha.decode(), self.user, branch)
        self.say(f"-----> Build {build.pk} queued for {self.app.name}")
        status, message = self._relay_build_log(build)
        if status == Build.Status.SUCCEEDED:
            return None
        return f"deploy failed: {message or status}".encode()

    def _acquire_push_lock(self) -> None:
        if self._push_lock is not None:
            return
        timeout = settings.PAAS_BUILD_TIMEOUT + FOLLOW_GRACE_SECONDS
        lock = Lock(get_redis(), f"paas:app:{self.app.name}:push", timeout=timeout)
        if not lock.acquire(blocking=False):
            self.say(f"-----> Another push to {self.app.name} is building; "
                     "waiting for it to finish")
            if not lock.acquire(blocking=True, blocking_timeout=timeout):
                raise PaasError("timed out waiting for the previous push to finish",
                                code="push_lock_timeout")
        self._push_lock = lock

    def _relay_build_log(self, build: Build) -> tuple[str, str]:
        """Relay the build's log to the pusher until it ends; return (status, message)."""
        deadline = time.monotonic() + settings.PAAS_BUILD_TIMEOUT + FOLLOW_GRACE_SECONDS
        quiet_seconds = 0
        for event in follow(get_redis(), build.pk):
            if event is None:
                if time.monotonic() > deadline:
                    return Build.Status.FAILED, "timed out waiting for the build to finish"
                quiet_seconds += 1
                if quiet_seconds % LOST_WORKER_CHECK_SECONDS == 0:
                    # Ends the log (and so this loop) if the build's worker died.
                    fail_if_worker_lost(build.pk)
                continue
            quiet_seconds = 0
            if event.kind == "end":
                return event.status, event.text
            self.say(event.text)
        return Build.Status.FAILED, "the build log ended unexpectedly"
