"""Receiving a pack into quarantine, as git does: it joins the repository only once it is whole
and within the bounds, so a refused push leaves neither objects nor temporary files behind.

dulwich's receive-pack stores the pushed pack with ``object_store.add_thin_pack`` before any
ref moves, and reports an ``OSError`` raised there as a failed unpack, moving no ref. The
store below has git's own ``index-pack`` write the pack into ``objects/incoming-*`` (with the
repository's objects as an alternate, so a thin pack's deltas resolve), then checks every
object's size, then moves the pack's files into ``objects/pack``. Whatever goes wrong, the
quarantine directory is removed.

Why git and not dulwich for the indexing: dulwich holds each object whole in memory while it
indexes (and applies deltas there), so a few MiB of zlib bomb become GiBs in the web worker.
``GIT_ALLOC_LIMIT`` makes index-pack refuse any single allocation above the object bound,
so a push costs at most about that much memory, whatever its objects claim to be.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from dulwich.object_store import DiskObjectStore
from dulwich.pack import DELTA_TYPES, Pack
from dulwich.repo import Repo

from paas.git.limits import PushRefused

GIT = "/usr/bin/git"
CHUNK_BYTES = 64 * 1024
# git's own small buffers must fit under GIT_ALLOC_LIMIT; objects between the object bound
# and this are refused by check_object_sizes instead, after indexing.
MIN_ALLOC_LIMIT = 8 * 1024 * 1024


class QuarantiningObjectStore(DiskObjectStore):
    """A repository's object store whose received packs pass through quarantine."""

    max_object_bytes: int | None = None

    def add_thin_pack(self, read_all: Callable[[int], bytes],
                      read_some: Callable[[int], bytes] | None, progress=None, *,
                      max_input_size: int | None = None) -> Pack:
        """Receive a pack; raises PushRefused (an OSError) for a corrupt or truncated pack, or
        an object over ``max_object_bytes``."""
        incoming = tempfile.mkdtemp(prefix="incoming-", dir=self.path)
        try:
            quarantine = DiskObjectStore.init(incoming, object_format=self.object_format)
            self._git_index_pack(read_some or read_all, Path(incoming), max_input_size)
            quarantine._update_pack_cache()
            packs = list(quarantine.packs)
            if not packs:
                raise PushRefused("git index-pack wrote no pack")
            pack = packs[0]
            try:
                if self.max_object_bytes is not None:
                    check_object_sizes(pack, self.max_object_bytes)
                empty = len(pack) == 0
            finally:
                quarantine.close()
            if empty:  # a push that only deletes or re-points refs: nothing to keep
                return pack
            return self._move_in(Path(quarantine.pack_dir))
        finally:
            shutil.rmtree(incoming, ignore_errors=True)

    def _git_index_pack(self, read: Callable[[int], bytes], quarantine: Path,
                    max_input_size: int | None) -> None:
        """Pipe the pack from ``read`` into ``git index-pack`` writing into ``quarantine``.

        Raises PushRefused with git's complaint, or what ``read`` raises (the body's bounds).
        """
        argv = [GIT, "index-pack", "--stdin", "--fix-thin"]
        if max_input_size:
            argv.append(f"--max-input-size={max_input_size}")
        alloc_limit = max((self.max_object_bytes or 0) + 1, MIN_ALLOC_LIMIT)
        env = {
            "GIT_DIR": str(Path(self.path).parent),
            "GIT_OBJECT_DIRECTORY": str(quarantine),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(self.path),
            # No object, inflated or rebuilt from a delta, may take more memory than this.
            "GIT_ALLOC_LIMIT": str(alloc_limit) if self.max_object_bytes else "0",
            "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(quarantine), "LC_ALL": "C",
        }
        # index-pack writes to stderr only when it fails (no progress without a terminal), so
        # the pipe never fills while the pack is still being written.
        with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=env, cwd=quarantine) as indexer:
            assert indexer.stdin is not None and indexer.stderr is not None
            try:
                while chunk := read(CHUNK_BYTES):
                    indexer.stdin.write(chunk)
            except BrokenPipeError:
                pass  # index-pack stopped reading: its exit status and stderr say why
            except BaseException:
                indexer.kill()
                raise
            finally:
                with contextlib.suppress(BrokenPipeError):
                    indexer.stdin.close()
            complaint = indexer.stderr.read().decode("utf-8", "replace").strip()
            status = indexer.wait()
        if status != 0:
            raise PushRefused(_explain(complaint, self.max_object_bytes))

    def _move_in(self, quarantined: Path) -> Pack:
        # Index (and any other companion) first, the .pack last: a reader lists a pack only
        # once its .idx is there, so it never opens a half-moved one.
        names = sorted(os.listdir(quarantined), key=lambda name: name.endswith(".pack"))
        for name in names:
            os.replace(quarantined / name, Path(self.pack_dir) / name)
        self._update_pack_cache()
        basename = next(name for name in names if name.endswith(".pack"))[:-len(".pack")]
        return self._pack_cache[basename]


def _explain(complaint: str, max_object_bytes: int | None) -> str:
    """What to tell the pusher for git index-pack's last line of complaint."""
    last = (complaint.splitlines() or ["git index-pack failed"])[-1].removeprefix("fatal: ")
    if "over limit" in last and max_object_bytes:
        return (f"the push holds an object larger than the {max_object_bytes} bytes allowed "
                "(PAAS_MAX_OBJECT_BYTES); keep large files out of git")
    return f"the pack is corrupt or truncated ({last})"


def check_object_sizes(pack: Pack, max_object_bytes: int) -> None:
    """Raise PushRefused if an object in ``pack`` is larger than ``max_object_bytes``.

    A whole object's size is in its header; a delta's result size is the second number of
    the delta's own header, so no delta is applied here.
    """
    for unpacked in pack.data.iter_unpacked():
        if unpacked.pack_type_num in DELTA_TYPES:
            size = _delta_result_size(b"".join(unpacked.decomp_chunks))
        else:
            size = unpacked.decomp_len or 0
        if size > max_object_bytes:
            raise PushRefused(
                f"the push holds an object of {size} bytes, more than the {max_object_bytes} "
                "allowed (PAAS_MAX_OBJECT_BYTES); keep large files out of git")


def _delta_result_size(delta: bytes) -> int:
    """The target size in a git delta's header (after the base size); both are varints."""
    index = 0
    size = 0
    for _ in range(2):
        size, shift = 0, 0
        while True:
            if index >= len(delta):
                raise PushRefused("the pack holds a truncated delta")
            byte = delta[index]
            index += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
    return size


def open_repository(path: Path, max_object_bytes: int | None) -> Repo:
    """The bare repository at ``path``, its received packs quarantined (see above)."""
    store = QuarantiningObjectStore(str(path / "objects"))
    store.max_object_bytes = max_object_bytes
    return Repo(str(path), object_store=store)

