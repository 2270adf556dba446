"""Row 5: ``git push`` of a 50 MB, 5,000-file repository, paas's receiver against C git.

The repository is made once per run of the benchmark, deterministically (seeded pseudo-random
bytes, which zlib cannot shrink, so the pack really is ~50 MB), as one commit. Each run pushes
it, alternately,

  paas      to a NEW app's non-deploy branch ``bench`` (the receiver stores other branches
            without a build: paas.git.receiver), over smart HTTP with the stack's token;
  baseline  to a new bare repository of C git's ``git http-backend`` behind nginx + fcgiwrap
            (bench.git_http), over smart HTTP with basic auth too.

Both targets start empty, so every run sends every object. The time is the ``git push``
command's, start to exit, with the same git client on both sides.
"""

import random
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import Row, Samples, ratio_row
from bench.git_http import GitHttpServer
from bench.measure import BenchError, destroy_app
from tests.e2e.stack import Stack, git, unique_app_name

FILES = 5_000
FILE_BYTES = 10_000  # 5,000 x 10 kB = 50 MB
FILES_PER_DIRECTORY = 100
SEED = 10
BRANCH = "bench"
TARGET = 2.0


def make_repository(path: Path, files: int = FILES, file_bytes: int = FILE_BYTES) -> str:
    """A work tree at ``path`` with ``files`` files of ``file_bytes`` incompressible bytes,
    committed on main; the commit id. The same arguments always give the same commit."""
    numbers = random.Random(SEED)
    for index in range(files):
        file = path / f"d{index // FILES_PER_DIRECTORY:03}" / f"f{index:05}.bin"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(numbers.randbytes(file_bytes))
    # A fixed author and date too, so that the commit id is the same every time.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(path), "GIT_AUTHOR_NAME": "paas bench",
           "GIT_AUTHOR_EMAIL": "bench@paas.invalid", "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z"}
    env.update({key.replace("AUTHOR", "COMMITTER"): value for key, value in env.items()
                if key.startswith("GIT_AUTHOR")})
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "50 MB"]):
        subprocess.run(["git", *argv], cwd=path, env=env, check=True, capture_output=True)
    return git(path, "rev-parse", "HEAD")


def timed_push(repo: Path, url: str) -> float:
    """Seconds ``git push url HEAD:refs/heads/bench`` took. Raises BenchError if it failed."""
    started = time.monotonic()
    result = subprocess.run(["git", "push", "--quiet", url, f"HEAD:refs/heads/{BRANCH}"],
                            cwd=repo, capture_output=True, text=True, timeout=1200,
                            env={"PATH": "/usr/bin:/bin", "GIT_TERMINAL_PROMPT": "0",
                                 "HOME": str(repo)})
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise BenchError(f"git push to {url.split('@')[-1]} failed:\n{result.stderr}")
    return elapsed


def run(stack: Stack, runs: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="paas-bench-git-") as workdir, \
            GitHttpServer() as cgit:
        repo = Path(workdir) / "repo"
        commit = make_repository(repo)
        size_mb = sum(f.stat().st_size for f in repo.rglob("*.bin")) / 1e6
        paas_times, baseline_times = [], []
        for number in range(1, runs + 1):
            name = f"push{number}"
            baseline_times.append(timed_push(repo, cgit.new_repository(name)))
            if cgit.ref(name, BRANCH) != commit:
                raise BenchError("C git did not store the pushed branch")
            app = unique_app_name("bench-push")
            stack.apps.add(app)
            try:
                paas_times.append(timed_push(repo, stack.remote(app)))
                check_stored_without_build(stack, app, commit)
            finally:
                destroy_app(stack, app)
            print(f"  run {number}: C git {baseline_times[-1]:.2f}s, "
                  f"paas {paas_times[-1]:.2f}s", flush=True)
    return [ratio_row(
        f"git push, {size_mb:.0f} MB in {FILES:,} files, non-deploy branch", "s",
        Samples.of(paas_times), Samples.of(baseline_times), at_most=TARGET,
        notes="baseline: git http-backend behind nginx + fcgiwrap, basic auth; "
              "fresh target each run")]


def check_stored_without_build(stack: Stack, app: str, commit: str) -> None:
    """Raises BenchError unless paas stored the branch and started no build for it."""
    if stack.server_ref(app, BRANCH) != commit:
        raise BenchError(f"paas did not store {BRANCH} of {app}")
    builds = stack.api("GET", f"/apps/{app}/builds")
    if builds.status != 200 or builds.json():
        raise BenchError(f"a push to {BRANCH} of {app} started a build: {builds.body[:200]}")
