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

from dulwich.errors import GitProtocolError
from dulwich.object_store import MissingObjectFinder
from dulwich.objects import ZERO_SHA, Commit, ObjectID
from dulwich.protocol import (
    CAPABILITY_SIDE_BAND_64K,
    SIDE_BAND_CHANNEL_FATAL,
    SIDE_BAND_CHANNEL_PROGRESS,
)
from dulwich.refs import HEADREF, Ref
from dulwich.repo import Repo
from dulwich.server import Backend, BackendRepo, ReceivePackHandler

from paas.core.buildlog import follow_limit_seconds
from paas.core.builds import build_pushed_commit
from paas.core.locks import app_lock
from paas.core.models import App
from paas.errors import PaasError, UserError
from paas.git.limits import PushRefused
from paas.git.quarantine import open_repository
from paas.names import validate_ref_name

logger = logging.getLogger(__name__)

DEPLOY_BRANCHES = (Ref(b"refs/heads/main"), Ref(b"refs/heads/master"))


class SingleRepoBackend(Backend):
    """A dulwich backend serving exactly one repository, whatever path is asked for; pushed
    packs go through quarantine, their objects at most ``max_object_bytes`` each."""

    def __init__(self, path: Path, max_object_bytes: int | None = None) -> None:
        self.path = path
        self.max_object_bytes = max_object_bytes

    def open_repository(self, path: str) -> Repo:
        return open_repository(self.path, self.max_object_bytes)


def check_connected(repo: BackendRepo, ref_name: bytes, new_sha: bytes) -> None:
    """Raise UserError(missing_objects) unless ``new_sha`` and everything it reaches that the
    repository's refs do not already reach are in the repository (git's connectivity check),
    and UserError(invalid_ref_target) if a branch would point at anything but a commit.

    dulwich moves a ref to any id a client names, so without this a branch could point at
    objects that were never sent.
    """
    store = repo.object_store
    sha_wanted = ObjectID(new_sha)
    try:
        target = store[sha_wanted]
        if ref_name.startswith(b"refs/heads/") and not isinstance(target, Commit):
            raise UserError(f"{ref_name.decode()} must point at a commit, not a "
                            f"{target.type_name.decode()}", code="invalid_ref_target")
        haves = [sha for sha in repo.refs.as_dict().values() if sha in store]
        for sha, _ in MissingObjectFinder(store, haves=haves, wants=[sha_wanted]):
            if sha not in store:
                raise KeyError(sha)
    except KeyError as error:
        missing = error.args[0] if error.args else new_sha
        shown = missing.decode() if isinstance(missing, bytes) else str(missing)
        raise UserError(f"{ref_name.decode()} would point at objects that were not pushed "
                        f"({shown} is missing)", code="missing_objects") from None


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
            try:
                super().handle()
            except (PushRefused, GitProtocolError) as error:
                # Refused while reading the ref commands, before any pack (a pack's own
                # refusal is reported by dulwich as a failed unpack); dulwich wraps a
                # PushRefused met there in a GitProtocolError. Nothing was stored.
                self._refuse(str(error))

    def _refuse(self, message: str) -> None:
        if self._client_capabilities is not None and self.has_capability(
                CAPABILITY_SIDE_BAND_64K):
            self.proto.write_sideband(SIDE_BAND_CHANNEL_FATAL, f"{message}\n".encode())
        else:
            self.proto.write_pkt_line(f"ERR {message}".encode())

    def say(self, text: str) -> None:
        """Show ``text`` to the pusher as ``remote:`` lines."""
        if self._client_capabilities is not None and self.has_capability(
                CAPABILITY_SIDE_BAND_64K):
            for line in text.splitlines():
                self.proto.write_sideband(SIDE_BAND_CHANNEL_PROGRESS, line.encode() + b"\n")

    def _on_update(self, ref_name: Ref, old_sha: ObjectID, new_sha: ObjectID) -> bytes | None:
        try:
            validate_ref_name(ref_name)
            if new_sha != ZERO_SHA:
                check_connected(self.repo, ref_name, new_sha)
        except UserError as error:
            self.say(f" !     {error}")
            return str(error).encode()
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
