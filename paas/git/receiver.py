"""The build gate in git's receive-pack: a push to the deploy branch moves its ref only after
the pushed commit was built and deployed.

dulwich's ReceivePackHandler stores the pack, then calls ``_on_update`` for each ref before
moving it; returning an error message there leaves that ref where it was and reports the message
to ``git push``. While the build runs, its log is relayed to the pusher on the progress side
band, where git prints it as ``remote: ...`` lines.
"""

import logging
from contextlib import ExitStack
from pathlib import Path

from dulwich.objects import ZERO_SHA, ObjectID
from dulwich.protocol import CAPABILITY_SIDE_BAND_64K, SIDE_BAND_CHANNEL_PROGRESS
from dulwich.refs import HEADREF, Ref
from dulwich.repo import Repo
from dulwich.server import Backend, ReceivePackHandler

from paas.core.buildlog import follow_limit_seconds
from paas.core.builds import build_pushed_commit
from paas.core.locks import app_lock
from paas.core.models import App
from paas.errors import PaasError

logger = logging.getLogger(__name__)

DEPLOY_BRANCHES = (Ref(b"refs/heads/main"), Ref(b"refs/heads/master"))


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
    repo.refs.set_symbolic_ref(HEADREF, DEPLOY_BRANCHES[0])
    repo.close()


class DeployingReceivePackHandler(ReceivePackHandler):
    """receive-pack that builds and deploys pushes to main/master before moving the ref."""

    def __init__(self, backend: Backend, args, proto, *, app: App, user, **kwargs) -> None:
        super().__init__(backend, args, proto, **kwargs)
        self.app = app
        self.user = user
        # The push lock, once taken, is held until every ref of the push has moved.
        self._held = ExitStack()
        self._push_locked = False

    def handle(self) -> None:
        with self._held:
            super().handle()

    def say(self, text: str) -> None:
        """Show ``text`` to the pusher as ``remote:`` lines."""
        if self._client_capabilities is not None and self.has_capability(
                CAPABILITY_SIDE_BAND_64K):
            for line in text.splitlines():
                self.proto.write_sideband(SIDE_BAND_CHANNEL_PROGRESS, line.encode() + b"\n")

    def _on_update(self, ref_name: Ref, old_sha: ObjectID, new_sha: ObjectID) -> bytes | None:
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

    def _build_and_deploy(self, ref_name: Ref, old_sha: ObjectID, new_sha: ObjectID
                          ) -> bytes | None:
        self._hold_push_lock()
        # Another push may have moved the branch while this one waited its turn: building
        # on a stale base would deploy code the ref will then refuse to point at.
        current = self.repo.refs.as_dict().get(ref_name, ZERO_SHA)
        if current != old_sha:
            return b"the branch moved while this push waited; fetch and push again"
        branch = ref_name.decode().removeprefix("refs/heads/")
        outcome = build_pushed_commit(self.app, new_sha.decode(), self.user, branch, self.say)
        if outcome.succeeded:
            return None
        return f"deploy failed: {outcome.message or outcome.status}".encode()

    def _hold_push_lock(self) -> None:
        """One build per app at a time; held until dulwich has moved the ref (see handle)."""
        if self._push_locked:
            return
        self._held.enter_context(app_lock(
            self.app.name, "push", wait=follow_limit_seconds(),
            on_wait=lambda: self.say(f"-----> Another push to {self.app.name} is building; "
                                     "waiting for it to finish")))
        self._push_locked = True
