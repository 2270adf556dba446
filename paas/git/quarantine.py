"""Receiving a pack into quarantine, as git does: it joins the repository only once it is whole
and within the bounds, so a refused push leaves neither objects nor temporary files behind.

dulwich's receive-pack stores the pushed pack with ``object_store.add_thin_pack`` before any
ref moves, and reports an ``OSError`` raised there as a failed unpack, moving no ref. The
store below writes the pack into ``objects/incoming-*`` (which sees the repository's objects
as an alternate, so a thin pack's deltas resolve), checks every object's size, then moves the
pack's files into ``objects/pack``. Whatever goes wrong, the quarantine directory is removed.
"""

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from dulwich.object_store import DiskObjectStore
from dulwich.pack import DELTA_TYPES, Pack
from dulwich.repo import Repo

from paas.git.limits import PushRefused

logger = logging.getLogger(__name__)


class QuarantiningObjectStore(DiskObjectStore):
    """A repository's object store whose received packs pass through quarantine."""

    max_object_bytes: int | None = None

    def add_thin_pack(self, read_all: Callable[[int], bytes],
                      read_some: Callable[[int], bytes] | None, progress=None, *,
                      max_input_size: int | None = None) -> Pack:
        """Receive a pack; raises PushRefused (an OSError) for an object over
        ``max_object_bytes``, and what dulwich raises for a truncated or corrupt pack."""
        incoming = tempfile.mkdtemp(prefix="incoming-", dir=self.path)
        try:
            quarantine = DiskObjectStore.init(incoming, object_format=self.object_format)
            quarantine.alternates.append(self)
            try:
                pack = quarantine.add_thin_pack(read_all, read_some, progress,
                                                max_input_size=max_input_size)
            except OSError:
                raise  # a bound (PushRefused), the client gone, or the disk: reported as is
            except Exception as error:
                # Whatever else dulwich's parser raises on the client's bytes (ValueError,
                # TypeError, KeyError... on garbage), the client sent no valid pack.
                logger.info("refused a corrupt pack: %r", error)
                raise PushRefused(f"the pack is corrupt or truncated ({error})") from None
            try:
                if self.max_object_bytes is not None:
                    check_object_sizes(pack, self.max_object_bytes)
                empty = len(pack) == 0
            finally:
                pack.close()
            if empty:  # a push that only deletes or re-points refs: nothing to keep
                return pack
            return self._move_in(Path(quarantine.pack_dir))
        finally:
            shutil.rmtree(incoming, ignore_errors=True)

    def _move_in(self, quarantined: Path) -> Pack:
        # Index (and any other companion) first, the .pack last: a reader lists a pack only
        # once its .idx is there, so it never opens a half-moved one.
        names = sorted(os.listdir(quarantined), key=lambda name: name.endswith(".pack"))
        for name in names:
            os.replace(quarantined / name, Path(self.pack_dir) / name)
        self._update_pack_cache()
        basename = next(name for name in names if name.endswith(".pack"))[:-len(".pack")]
        return self._pack_cache[basename]


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

