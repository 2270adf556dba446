"""Exporting a pushed commit's tree to a directory the builders can read."""

import os.path
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dulwich.archive import tar_stream
from dulwich.objects import Commit, Tree
from dulwich.repo import Repo

from paas.errors import UserError


@contextmanager
def checkout(repo_path: Path, commit_sha: str) -> Iterator[Path]:
    """Yield a temporary directory holding the tree of ``commit_sha``; removed afterwards.

    Raises UserError(unknown_commit) if the commit is not in the repository.
    """
    workdir = Path(tempfile.mkdtemp(prefix="paas-src-"))
    try:
        with Repo(str(repo_path)) as repo:
            try:
                commit = repo[commit_sha.encode()]
                if not isinstance(commit, Commit):
                    raise KeyError(commit_sha)  # a tree or blob by that id: still no commit
                tree = repo[commit.tree]
                if not isinstance(tree, Tree):
                    raise KeyError(commit.tree)
            except KeyError:
                raise UserError(f"commit {commit_sha} is not in the repository",
                                code="unknown_commit") from None
            # On disk, not in memory: a tree may be as large as a push allows.
            with tempfile.TemporaryFile(prefix="paas-tree-") as buffer:
                for chunk in tar_stream(repo.object_store, tree, mtime=commit.commit_time):
                    buffer.write(chunk)
                buffer.seek(0)
                with tarfile.open(fileobj=buffer, mode="r:") as archive:
                    _extract_safely(archive, workdir)
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _extract_safely(archive: tarfile.TarFile, destination: Path) -> None:
    """Extract a tree's archive, refusing members that would land outside ``destination``.

    Python 3.11.4+ has tarfile's "data" filter for this (Debian 12 backports it to 3.11.2).
    Symbolic links may point only inside the tree: the builders read files of the tree on the
    host (Dockerfile, Procfile, .buildpacks), and a link to /etc/shadow would read that.
    Raises UserError(unsafe_path) for an absolute path, a ``..`` component, a hard link or a
    symbolic link that leaves the tree.
    """
    if hasattr(tarfile, "data_filter"):
        try:
            archive.extractall(destination, filter="data")
        except tarfile.FilterError as error:
            raise UserError(f"refusing to build a tree with the path {error.tarinfo.name!r}: "
                            f"{error}", code="unsafe_path") from None
        return
    for member in archive.getmembers():
        parts = Path(member.name).parts
        if member.name.startswith("/") or ".." in parts or member.islnk() \
                or (member.issym() and _link_leaves(destination, member)):
            raise UserError(f"refusing to build a tree with the path {member.name!r}",
                            code="unsafe_path")
    archive.extractall(destination)


def _link_leaves(destination: Path, member: tarfile.TarInfo) -> bool:
    """Whether symbolic link ``member`` points outside ``destination``."""
    if member.linkname.startswith("/"):
        return True
    root = destination.resolve()
    target = (root / member.name).parent / member.linkname
    return not Path(os.path.normpath(target)).is_relative_to(root)
