"""Buildpacks: what one is, the shipped ones in their order, and explicit selection.

A buildpack is a directory with ``bin/detect``, ``bin/compile`` and ``bin/release`` (the classic
Heroku contract, see ``buildpacks/README.md``). paas ships three, asked in this fixed order:

    python  (requirements.txt, pyproject.toml, setup.py, runtime.txt, .python-version)
    nodejs  (package.json)
    static  (index.html)

A Dockerfile wins over all of them (``paas.build.builders``). Otherwise ``BUILDPACK_URL`` (app
config) or the lines of a ``.buildpacks`` file pick them explicitly: each a shipped buildpack's
name, a directory under ``PAAS_BUILDPACKS_DIR`` (default ``$PAAS_HOME/buildpacks/``), or an
http(s) git URL (``#ref`` optional).

Detection of the shipped buildpacks happens on the host by checking the file names listed in their
``buildpack.json`` ("detect_any"), which their ``bin/detect`` also checks: no buildpack code runs on
the host. Everything a buildpack executes runs inside a build container made from the stack image
(``paas.build.buildpack_runner``). The builders that tie detection, selection and the runner
together are in ``paas.build.builders``.
"""

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from paas.errors import UserError

# The shipped buildpacks, in detection order. Python before Node.js: a Django app with a
# package.json for its front-end tooling is still a Python app; static last because many apps
# carry an index.html somewhere.
BUILDPACK_ORDER = ("python", "nodejs", "static")
BUILDPACKS_DIR = Path(__file__).resolve().parents[2] / "buildpacks"

SELECTION_FILE = ".buildpacks"
SELECTION_CONFIG_KEY = "BUILDPACK_URL"
GIT_URL_RE = re.compile(r"^https?://[^\s#]+(#[A-Za-z0-9_][A-Za-z0-9._/-]*)?$")
BUILTIN_NAME_RE = re.compile(r"^(?:heroku/|paas/)?([a-z][a-z0-9-]*)$")
GIT_CLONE_TIMEOUT = 120
# Several buildpacks run one after another (Heroku's multi-buildpack); a handful is plenty, and
# the bound keeps a .buildpacks file from turning into hundreds of clones and build steps.
MAX_BUILDPACKS = 8


@dataclass(frozen=True)
class Buildpack:
    """A buildpack directory on the host, and what paas knows about it.

    ``phases``: the buildpack honours ``PAAS_BUILD_PHASE=dependencies|app``, so its dependency
    install becomes its own image layer. ``dependency_files``: what the dependencies phase sees.
    """

    name: str
    path: Path
    phases: bool = False
    detect_any: tuple[str, ...] = ()
    dependency_files: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path, name: str | None = None) -> "Buildpack":
        """Read ``path``. Raises UserError(invalid_buildpack) if it lacks the contract's scripts,
        or if they or its ``buildpack.json`` are symbolic links (a fetched buildpack's link could
        point at any host file; nothing here reads, copies or chmods through one)."""
        shown = name or path.name
        for script in ("compile", "release"):
            script_path = path / "bin" / script
            if script_path.is_symlink() or (path / "bin").is_symlink():
                raise UserError(f"buildpack {shown}: bin/{script} is a symbolic link; paas runs "
                                "only the buildpack's own files", code="invalid_buildpack")
            if not script_path.is_file():
                raise UserError(f"buildpack {shown} has no bin/{script}",
                                code="invalid_buildpack")
        meta: dict[str, Any] = {}
        meta_path = path / "buildpack.json"
        if meta_path.is_symlink():
            raise UserError(f"buildpack {shown}: buildpack.json is a symbolic link",
                            code="invalid_buildpack")
        if meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except ValueError as error:
                raise UserError(f"buildpack {name or path.name}: buildpack.json is not valid "
                                f"JSON: {error}", code="invalid_buildpack") from None
        return cls(
            name=name or str(meta.get("name") or path.name),
            path=path,
            phases=meta.get("phases") is True,
            detect_any=tuple(meta.get("detect_any") or ()),
            dependency_files=tuple(meta.get("dependency_files") or ()),
        )

    def detects(self, source_dir: Path) -> bool:
        return any((source_dir / name).is_file() for name in self.detect_any)


def builtin_buildpack(name: str) -> Buildpack:
    """The shipped buildpack ``name``. Raises UserError(unknown_buildpack)."""
    if name not in BUILDPACK_ORDER:
        raise UserError(f"unknown buildpack {name!r}; paas ships {', '.join(BUILDPACK_ORDER)}",
                        code="unknown_buildpack")
    return Buildpack.load(BUILDPACKS_DIR / name, name)


def read_selection(source_dir: Path, config: dict[str, str]) -> list[str]:
    """The explicitly chosen buildpacks, in order: BUILDPACK_URL (one), else the lines of the
    ``.buildpacks`` file (one or more; comments and blank lines skipped), else none.

    Raises UserError(invalid_buildpacks_file) when ``.buildpacks`` lists more than
    MAX_BUILDPACKS.
    """
    value = (config.get(SELECTION_CONFIG_KEY) or "").strip()
    if value:
        return [value]
    path = source_dir / SELECTION_FILE
    if not path.is_file():
        return []
    entries = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.strip().startswith("#")]
    if len(entries) > MAX_BUILDPACKS:
        raise UserError(f"{SELECTION_FILE} lists {len(entries)} buildpacks; paas runs at most "
                        f"{MAX_BUILDPACKS} per app", code="invalid_buildpacks_file")
    return entries


def resolve_selection(selection: str, workdir: Path, local_root: Path | None,
                      allowed_git_protocols: str = "https:http") -> Buildpack:
    """Turn a BUILDPACK_URL / .buildpacks entry into a buildpack directory on the host.

    Accepts a shipped buildpack's name (``python``, ``heroku/python``), an absolute path inside
    ``local_root`` (the operator's directory of vetted buildpacks), or an http(s) git URL with an
    optional ``#ref``, which is cloned into ``workdir``. Nothing else: a path outside
    ``local_root`` would let an app copy any host directory into its image.
    Raises UserError(unknown_buildpack | invalid_buildpack | buildpack_fetch_failed).
    """
    name_match = BUILTIN_NAME_RE.fullmatch(selection)
    if name_match and name_match.group(1) in BUILDPACK_ORDER:
        return builtin_buildpack(name_match.group(1))
    if selection.startswith("/"):
        return _local_buildpack(Path(selection), local_root, selection)
    if GIT_URL_RE.fullmatch(selection):
        return _git_buildpack(selection, workdir, allowed_git_protocols)
    raise UserError(
        f"buildpack {selection!r} is not a shipped buildpack ({', '.join(BUILDPACK_ORDER)}), an "
        "absolute path under the operator's buildpacks directory, or an http(s) git URL",
        code="unknown_buildpack")


def _local_buildpack(path: Path, local_root: Path | None, selection: str) -> Buildpack:
    resolved = path.resolve()
    if local_root is None or not resolved.is_relative_to(local_root.resolve()):
        raise UserError(f"buildpack path {selection!r} is outside the buildpacks directory "
                        f"({local_root or 'none configured'})", code="unknown_buildpack")
    if not resolved.is_dir():
        raise UserError(f"buildpack path {selection!r} does not exist", code="unknown_buildpack")
    return Buildpack.load(resolved)


def redact_url(url: str) -> str:
    """``url`` without the credentials in its userinfo, fit for build logs and messages.

    A ``BUILDPACK_URL`` may carry a token (``http://user:token@host/bp.git``): build logs are
    shown to everyone with access to the app, so the token must not reach them.
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def _git_buildpack(url: str, workdir: Path, allowed_protocols: str) -> Buildpack:
    repo_url, _, ref = url.partition("#")
    shown_url = redact_url(repo_url)
    target = Path(tempfile.mkdtemp(prefix="buildpack-", dir=workdir))
    argv = ["git", "clone", "--quiet", "--depth", "1"]
    if ref:
        argv += ["--branch", ref]
    argv += ["--end-of-options", repo_url, str(target)]
    # Only the listed transports: ext:: and friends would run commands on the host.
    env = {**os.environ, "GIT_ALLOW_PROTOCOL": allowed_protocols, "GIT_TERMINAL_PROMPT": "0"}
    try:
        result = subprocess.run(argv, capture_output=True, text=True, env=env,
                                timeout=GIT_CLONE_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise UserError(f"cloning buildpack {shown_url} took longer than {GIT_CLONE_TIMEOUT}s",
                        code="buildpack_fetch_failed") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["git clone failed"])[-1]
        reason = reason.replace(repo_url, shown_url)
        raise UserError(f"could not clone buildpack {shown_url}: {reason}",
                        code="buildpack_fetch_failed")
    return Buildpack.load(target, Path(repo_url.rstrip("/")).name.removesuffix(".git"))
