"""Benchmark: a code-only redeploy of the python-flask sample, paas vs a hand-written Docker flow.

Both sides run in the same process on the same dockerd, warm, with the same code change:

  paas      git push (python buildpack build, release, health-checked deploy, router switch),
            until the router first answers with the new code (polled while the push runs),
            and until the push returns (right after the switch; old containers drain after)
  baseline  a hand-written cached Dockerfile (venv + pip with a cache mount, then COPY . .):
            docker build + docker run + polling until the container answers with the new code

Prints each run, the medians and paas/baseline (target: at most 2x). No assertions: it measures.
Usage: .venv/bin/python bench/bench_redeploy.py [--runs N]
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from tests.e2e.stack import Stack, commit_all, free_port, http_get  # noqa: E402

SAMPLE = PROJECT_DIR / "tests" / "apps" / "python-flask"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
BASELINE_DOCKERFILE = """\
FROM paas/stack:bookworm
RUN python3 -m venv /opt/venv
COPY requirements.txt /app/
RUN --mount=type=cache,target=/root/.cache/pip \\
    --mount=type=secret,id=ca,target=/run/ca.crt \\
    PIP_CERT=/run/ca.crt /opt/venv/bin/pip install -r requirements.txt
COPY . /app/
CMD ["/opt/venv/bin/gunicorn", "app:app", "--bind", "0.0.0.0:5000"]
"""


def change_greeting(app_dir: Path, greeting: str) -> None:
    source = app_dir / "app.py"
    lines = [line if not line.startswith("GREETING =") else f'GREETING = "{greeting}"'
             for line in source.read_text().splitlines()]
    source.write_text("\n".join(lines) + "\n")


def wait_for(url: str, expected: str, host: str | None = None, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        answer = http_get(url, host=host, timeout=5)
        if answer.status == 200 and expected in answer.body:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} never answered {expected!r}")


class Baseline:
    """docker build + docker run + first answer, the way one would do it by hand."""

    def __init__(self, workdir: Path) -> None:
        self.app_dir = workdir / "baseline"
        shutil.copytree(SAMPLE, self.app_dir)
        (self.app_dir / "Dockerfile").write_text(BASELINE_DOCKERFILE)
        self.image = f"paas-bench/baseline-{uuid.uuid4().hex[:6]}"
        self.container: str | None = None
        self.built: set[str] = set()  # every image id: each rebuild untags the previous one

    def redeploy(self, greeting: str) -> float:
        change_greeting(self.app_dir, greeting)
        started = time.monotonic()
        build = subprocess.run(
            ["docker", "build", "-q", "--secret", f"id=ca,src={CA_BUNDLE}", "-t", self.image,
             str(self.app_dir)], check=True, capture_output=True, text=True,
            env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin"})
        self.built.add(build.stdout.strip())
        if self.container:
            subprocess.run(["docker", "rm", "-f", self.container], check=True,
                           capture_output=True)
        port = free_port()
        self.container = subprocess.run(
            ["docker", "run", "-d", "-p", f"127.0.0.1:{port}:5000", self.image],
            check=True, capture_output=True, text=True).stdout.strip()
        wait_for(f"http://127.0.0.1:{port}/", greeting)
        return time.monotonic() - started

    def close(self) -> None:
        if self.container:
            subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)
        subprocess.run(["docker", "image", "rm", "-f", self.image, *self.built],
                       capture_output=True)


class Paas:
    """git push to a real paas stack, until the router serves the new code."""

    def __init__(self, stack: Stack, workdir: Path) -> None:
        self.stack = stack
        self.app = f"bench-{uuid.uuid4().hex[:6]}"
        self.repo = stack.checkout("python-flask", workdir)

    def redeploy(self, greeting: str) -> float:
        """Seconds from `git push` to the router's first answer with the new code.

        The router is polled while the push runs. When the push itself returned (the release
        is current then; the old containers drain afterwards) is kept in ``self.push_returned``.
        """
        change_greeting(self.repo, greeting)
        commit_all(self.repo, greeting)
        served: list[float] = []
        stop = threading.Event()
        started = time.monotonic()

        def poll() -> None:
            url = f"http://127.0.0.1:{self.stack.router_port}/"
            while not stop.is_set():
                answer = http_get(url, host=f"{self.app}.localhost", timeout=5)
                if answer.status == 200 and greeting in answer.body:
                    served.append(time.monotonic() - started)
                    return
                time.sleep(0.05)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        result = self.stack.push(self.repo, self.app)
        self.push_returned = time.monotonic() - started
        if result.returncode != 0:
            stop.set()
            raise RuntimeError(f"push failed:\n{result.stderr}")
        poller.join(timeout=60)
        stop.set()
        if not served:
            raise RuntimeError("the router never served the new code")
        return served[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measured redeploys per side")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="paas-bench-"))
    stack = Stack.create()
    baseline = Baseline(workdir)
    try:
        print("starting a paas stack ...", flush=True)
        stack.start()
        paas = Paas(stack, workdir)
        # Warm both sides: dependencies installed and cached, first release running.
        print(f"warm-up: paas first deploy {paas.redeploy('warm up'):.1f}s, "
              f"baseline first deploy {baseline.redeploy('warm up'):.1f}s", flush=True)
        paas_times, push_times, baseline_times = [], [], []
        for run in range(1, args.runs + 1):
            greeting = f"Hello from run {run} {uuid.uuid4().hex[:6]}"
            baseline_times.append(baseline.redeploy(greeting))
            paas_times.append(paas.redeploy(greeting))
            push_times.append(paas.push_returned)
            print(f"run {run}: baseline {baseline_times[-1]:.2f}s  paas {paas_times[-1]:.2f}s "
                  f"(push returned after {paas.push_returned:.2f}s)", flush=True)
        paas_median = statistics.median(paas_times)
        baseline_median = statistics.median(baseline_times)
        print(f"median code-only redeploy: paas {paas_median:.2f}s, "
              f"docker build+run {baseline_median:.2f}s")
        push_median = statistics.median(push_times)
        print(f"ratio paas/baseline: {paas_median / baseline_median:.2f}x (target <= 2x)")
        print(f"push returned: median {push_median:.2f}s, "
              f"{push_median / baseline_median:.2f}x the baseline")
    finally:
        baseline.close()
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
