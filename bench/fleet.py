"""What the scale and growth benchmarks share: one tiny app pushed to many names, a logged-in
dashboard session, polling until something answers, and a stand-alone runner.

The tiny app is a Dockerfile app on the stack image (no network step, nothing to download)
that answers ``Hello from web.N of vR``: every instance says who it is, so a benchmark can
tell from the router's answers how many instances are routed. The same commit pushed under
many names builds from the layer cache.
"""

import argparse
import http.cookiejar
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from bench.common import Row
from tests.e2e.stack import APPS_DIR, NewUser, Stack, commit_all, git, http_get

TINY_DOCKERFILE = """\
FROM paas/stack:bookworm
COPY web.py /app/web.py
CMD ["python3", "/app/web.py"]
"""
# The runtime tests' web process: answers "<greeting> from web.N of vR", drains on SIGTERM.
TINY_WEB = APPS_DIR / "runtime-app" / "web.py"
T = TypeVar("T")
ANSWERED_BY = re.compile(r" from (?P<instance>[a-z0-9-]+\.\d+) of v\d+")


def tiny_app(workdir: Path) -> Path:
    """A git work tree on main holding the tiny app, committed."""
    repo = workdir / f"tiny-{uuid.uuid4().hex[:6]}"
    repo.mkdir(parents=True)
    (repo / "Dockerfile").write_text(TINY_DOCKERFILE)
    shutil.copy(TINY_WEB, repo / "web.py")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "a tiny web app")
    return repo


def bench_app_names(count: int) -> list[str]:
    """``count`` app names unique to this run (parallel stacks share one dockerd)."""
    run = uuid.uuid4().hex[:6]
    return [f"bench-{run}-{number}" for number in range(1, count + 1)]


def deploy(stack: Stack, repo: Path, names: list[str], concurrency: int = 3,
           as_user: NewUser | None = None) -> None:
    """Push ``repo`` to each of ``names`` (creating the apps, owned by ``as_user`` or the
    admin), ``concurrency`` pushes at a time.

    Raises RuntimeError with the push's output if one fails.
    """
    def push(name: str) -> None:
        result = (stack.push(repo, name, token=as_user.token, username=as_user.username)
                  if as_user else stack.push(repo, name))
        if result.returncode != 0:
            raise RuntimeError(f"push to {name} failed:\n{result.stderr}")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for _ in pool.map(push, names):
            pass


def destroy(stack: Stack, names: list[str], concurrency: int = 4) -> list[str]:
    """Destroy each of ``names`` through the API; return the problems (never raises), so that a
    failed benchmark still removes everything it made."""
    def remove(name: str) -> str | None:
        answer = stack.api("DELETE", f"/apps/{name}")
        if answer.status in (200, 404):
            return None
        return f"{name}: HTTP {answer.status} {answer.body[:200]}"

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [problem for problem in pool.map(remove, names) if problem]


def answered_by(stack: Stack, app: str) -> str | None:
    """Which instance (``web.3``) answered one GET through the router, or None."""
    answer = stack.get(app, timeout=5)
    found = ANSWERED_BY.search(answer.body) if answer.status == 200 else None
    return found["instance"] if found else None


def wait_until(condition: Callable[[], bool], limit: float, what: str,
               pause: float = 0.01) -> None:
    """Poll ``condition`` until it holds; raise RuntimeError after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {limit:g} s waiting for {what}")
        time.sleep(pause)


def answers(port: int) -> bool:
    return http_get(f"http://127.0.0.1:{port}/", timeout=2).status == 200


class Dashboard:
    """A browser's session on the dashboard: logged in once, as the admin unless told."""

    def __init__(self, stack: Stack, username: str | None = None,
                 password: str | None = None) -> None:
        self.base = stack.control_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with self.opener.open(f"{self.base}/login/", timeout=30) as response:
            form = response.read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        if token is None:
            raise RuntimeError("the login page has no CSRF token")
        data = urllib.parse.urlencode({"username": username or stack.username,
                                       "password": password or stack.password,
                                       "csrfmiddlewaretoken": token[1]}).encode()
        request = urllib.request.Request(f"{self.base}/login/", data=data,
                                         headers={"Referer": f"{self.base}/login/"})
        with self.opener.open(request, timeout=30) as response:
            if "/login/" in response.url:
                raise RuntimeError("the dashboard refused the password")

    def get(self, path: str) -> str:
        """The page at ``path``; raises RuntimeError unless it answers 200 (logged in)."""
        with self.opener.open(f"{self.base}{path}", timeout=60) as response:
            if response.status != 200 or "/login/" in response.url:
                raise RuntimeError(f"GET {path}: {response.status} at {response.url}")
            return response.read().decode()


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``call`` took, and what it returned."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def run_alone(run: Callable[[Stack, int], list[Row]], description: str) -> int:
    """Start a stack of its own, run one benchmark module's ``run`` and print its rows; the
    stack goes (with every app it ran) whatever happens."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=3, help="measured runs per side")
    args = parser.parse_args()
    stack = Stack.create()
    try:
        print("starting a paas stack ...", flush=True)
        stack.start()
        for row in run(stack, args.runs):
            print(row.as_json(), flush=True)
    finally:
        stack.stop()
    return 0


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="paas-bench-"))


def docker(*argv: str) -> str:
    """``docker <argv>``'s output; raises CalledProcessError if it fails."""
    return subprocess.run(["docker", *argv], check=True, capture_output=True,
                          text=True).stdout.strip()

