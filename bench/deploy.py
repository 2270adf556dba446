"""Rows 1 and 2: a cold deploy and a code-only redeploy of the python-flask sample (Flask +
gunicorn, python buildpack), paas against a hand-written Docker flow on the same dockerd.

  1 cold      paas: ``git push`` to a NEW app until the router's first 200. A new app has a new
              build cache id (paas.core.buildcache: an HMAC of the app's row id and creation
              time), which every buildpack step names in its command line and cache mount, so
              no layer and no pip download of an earlier app is reused.
              baseline: ``docker build --no-cache`` of BASELINE_DOCKERFILE + ``docker run`` +
              first 200 from the container's published port.
  2 redeploy  paas: a one-line change of app.py pushed to the app deployed last in row 1, until
              the router answers with the new code (the push's own return is in the extra
              figures); baseline: the same change, cached ``docker build`` + ``docker rm -f`` of
              the old container + ``docker run`` + first answer with the new code.

The sides alternate run by run, so that a noisy minute falls on both.
"""

import shutil
import tempfile
import uuid
from pathlib import Path

from bench.common import Row, Samples, ratio_row
from bench.measure import (
    CA_BUNDLE,
    AnswerWatch,
    app_host,
    destroy_app,
    docker,
    push_or_fail,
    router_url,
)
from tests.e2e.stack import APPS_DIR, Stack, commit_all, free_port, unique_app_name

SAMPLE = "python-flask"
FIRST_GREETING = "Hello from python-flask"
COLD_TARGET = 1.2
REDEPLOY_TARGET = 1.5
# What one writes by hand for this app: the stack image paas builds on, a virtualenv, the
# requirements in their own layer (so a code-only change reuses it), the code, gunicorn. pip
# gets the CA bundle as a secret, as paas's builds do. --no-cache-dir: unlike paas, which keeps
# pip's downloads in the app's cache mount, the baseline writes no download cache at all.
BASELINE_DOCKERFILE = """\
FROM paas/stack:bookworm
RUN python3 -m venv /opt/venv
COPY requirements.txt /app/
RUN --mount=type=secret,id=ca,target=/run/ca.crt \\
    PIP_CERT=/run/ca.crt /opt/venv/bin/pip install --no-cache-dir -r /app/requirements.txt
COPY . /app/
WORKDIR /app
CMD ["/opt/venv/bin/gunicorn", "app:app", "--bind", "0.0.0.0:5000"]
"""


def change_greeting(app_dir: Path, greeting: str) -> None:
    source = app_dir / "app.py"
    lines = [line if not line.startswith("GREETING =") else f'GREETING = "{greeting}"'
             for line in source.read_text().splitlines()]
    source.write_text("\n".join(lines) + "\n")


class BaselineApp:
    """The sample built and run by hand: ``docker build`` + ``docker run`` + first answer."""

    def __init__(self, workdir: Path) -> None:
        self.name = unique_app_name("bench-base")
        self.app_dir = workdir / self.name
        shutil.copytree(APPS_DIR / SAMPLE, self.app_dir)
        (self.app_dir / "Dockerfile").write_text(BASELINE_DOCKERFILE)
        self.image = f"paas-bench/{self.name}"
        self.container: str | None = None
        self.built: set[str] = set()  # every image id: each rebuild untags the previous one

    def deploy(self, greeting: str, cold: bool) -> float:
        """Seconds from ``docker build`` to the new container's first answer with
        ``greeting``. Raises BenchError."""
        change_greeting(self.app_dir, greeting)
        port = free_port()
        with AnswerWatch(f"http://127.0.0.1:{port}/", greeting) as watch:
            build = ["build", "--quiet", "--secret", f"id=ca,src={CA_BUNDLE}", "--tag", self.image]
            if cold:
                build.append("--no-cache")
            self.built.add(docker(*build, str(self.app_dir)))
            if self.container:
                docker("rm", "--force", self.container)
            self.container = docker("run", "--detach", "--publish", f"127.0.0.1:{port}:5000",
                                    self.image)
            return watch.wait()

    def close(self) -> None:
        """Removes the container and every image built; raises nothing (it is cleanup)."""
        if self.container:
            docker("rm", "--force", self.container, check=False)
        docker("image", "rm", "--force", self.image, *self.built, check=False)


class PaasApp:
    """The sample pushed to a real paas stack, answering through its router."""

    def __init__(self, stack: Stack, workdir: Path) -> None:
        self.stack = stack
        self.name = unique_app_name("bench-flask")
        self.repo = stack.checkout(SAMPLE, workdir / self.name)
        self.push_returned = 0.0

    def deploy(self, greeting: str) -> float:
        """Seconds from ``git push`` to the router's first answer with ``greeting``; how long
        the push itself took is kept in ``push_returned``. Raises BenchError."""
        change_greeting(self.repo, greeting)
        commit_all(self.repo, greeting)
        with AnswerWatch(router_url(self.stack), greeting, host=app_host(self.name)) as watch:
            push_or_fail(self.stack, self.repo, self.name)
            self.push_returned = watch.elapsed()
            return watch.wait(limit=60)


def run(stack: Stack, runs: int) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="paas-bench-deploy-"))
    baseline: BaselineApp | None = None
    paas: PaasApp | None = None
    try:
        cold_paas, cold_baseline = [], []
        for number in range(1, runs + 1):
            # The previous run's apps are gone first: each cold run starts from nothing.
            if baseline:
                baseline.close()
            if paas:
                destroy_app(stack, paas.name)
            baseline, paas = BaselineApp(workdir), PaasApp(stack, workdir)
            cold_baseline.append(baseline.deploy(FIRST_GREETING, cold=True))
            cold_paas.append(paas.deploy(FIRST_GREETING))
            print(f"  cold run {number}: baseline {cold_baseline[-1]:.2f}s, "
                  f"paas {cold_paas[-1]:.2f}s", flush=True)
        assert baseline and paas
        # The last cold deploys are the redeploy's warm-up: both have the dependency layer.
        redeploy_paas, redeploy_baseline, push_returned = [], [], []
        for number in range(1, runs + 1):
            greeting = f"Hello from run {number} {uuid.uuid4().hex[:6]}"
            redeploy_baseline.append(baseline.deploy(greeting, cold=False))
            redeploy_paas.append(paas.deploy(greeting))
            push_returned.append(paas.push_returned)
            print(f"  redeploy run {number}: baseline {redeploy_baseline[-1]:.2f}s, "
                  f"paas {redeploy_paas[-1]:.2f}s (push returned {push_returned[-1]:.2f}s)",
                  flush=True)
    finally:
        if baseline:
            baseline.close()
        if paas:
            destroy_app(stack, paas.name)
        shutil.rmtree(workdir, ignore_errors=True)
    pushes = Samples.of(push_returned)
    return [
        ratio_row("cold deploy, Flask + gunicorn (buildpack): push to first 200", "s",
                  Samples.of(cold_paas), Samples.of(cold_baseline), at_most=COLD_TARGET,
                  notes="baseline: docker build --no-cache + docker run + first 200"),
        ratio_row("code-only redeploy: push to new code answering", "s",
                  Samples.of(redeploy_paas), Samples.of(redeploy_baseline),
                  at_most=REDEPLOY_TARGET,
                  notes=f"push returned after {pushes.median:.2f}s "
                        f"[{pushes.min:.2f}-{pushes.max:.2f}]; "
                        "baseline: cached docker build + docker run + first answer",
                  extra={"push_returned": pushes.median, "push_returned_min": pushes.min,
                         "push_returned_max": pushes.max}),
    ]
