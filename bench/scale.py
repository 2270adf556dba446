"""Benchmark 4: scale web from 1 to 10 until all 10 are healthy and routed, against 10 x
``docker run`` of the same image.

  paas      ``paas ps:scale web=10`` (the CLI, as a user types it) until the router has
            answered from web.1 ... web.10: paas routes an instance only once it passed its
            health check, so that is "healthy and routed". When the CLI returned is kept too.
  baseline  10 x ``docker run -d`` of the app's current image, one after the other, each
            publishing a loopback port, then polling each port until it answers.

Between runs paas scales back to 1 and the baseline's containers are removed. Target: paas at
most 1.5x the baseline. Run alone: ``.venv/bin/python -m bench.scale --runs 3``.
"""

import shutil
import subprocess
import time
import uuid

from bench.common import Row, Samples
from bench.fleet import (
    answered_by,
    answers,
    bench_app_names,
    deploy,
    destroy,
    docker,
    run_alone,
    scratch_dir,
    tiny_app,
    wait_until,
)
from tests.e2e.stack import PAAS_CLI, Stack, cli_env, free_port

INSTANCES = 10
TARGET_RATIO = 1.5
LIMIT_SECONDS = 300


def current_image(stack: Stack, app: str) -> str:
    answer = stack.api("GET", f"/apps/{app}/releases")
    if answer.status != 200:
        raise RuntimeError(f"releases of {app}: HTTP {answer.status} {answer.body[:200]}")
    return next(r["image"] for r in answer.json() if r["status"] == "current")


def scale_with_paas(stack: Stack, app: str) -> tuple[float, float]:
    """Seconds until the router answered from all INSTANCES web instances, and until the
    CLI returned. Raises RuntimeError if the scale fails."""
    seen: set[str] = set()
    started = time.perf_counter()
    cli = subprocess.Popen([str(PAAS_CLI), "ps:scale", f"web={INSTANCES}", "-a", app],
                           cwd=stack.home, env=cli_env(stack.cli_config),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    routed_after: float | None = None
    returned_after: float | None = None
    try:
        while routed_after is None or returned_after is None:
            if routed_after is None:
                if (instance := answered_by(stack, app)) is not None:
                    seen.add(instance)
                if len(seen) == INSTANCES:
                    routed_after = time.perf_counter() - started
            if returned_after is None and cli.poll() is not None:
                returned_after = time.perf_counter() - started
                if cli.returncode != 0:
                    failure = cli.stderr.read() if cli.stderr else ""
                    raise RuntimeError(f"ps:scale failed: {failure}")
            if time.perf_counter() - started > LIMIT_SECONDS:
                raise RuntimeError(f"after {LIMIT_SECONDS} s the router had answered only "
                                   f"from {sorted(seen)}")
            time.sleep(0.005)
    finally:
        if cli.poll() is None:
            cli.kill()
        cli.communicate()
    return routed_after, returned_after


def scale_back(stack: Stack, app: str) -> None:
    result = stack.paas("ps:scale", "web=1", "-a", app)
    if result.returncode != 0:
        raise RuntimeError(f"scaling back to 1 failed:\n{result.stderr}")


def run_by_hand(image: str) -> float:
    """Seconds for INSTANCES ``docker run``s of ``image`` until each answers; their
    containers are removed afterwards."""
    prefix = f"paas-bench-scale-{uuid.uuid4().hex[:6]}"
    containers: list[str] = []
    try:
        started = time.perf_counter()
        ports = []
        for number in range(1, INSTANCES + 1):
            port = free_port()
            containers.append(docker(
                "run", "-d", "--name", f"{prefix}-{number}", "-p", f"127.0.0.1:{port}:5000",
                "-e", "PORT=5000", "-e", f"DYNO=web.{number}", image))
            ports.append(port)
        for port in ports:
            wait_until(lambda port=port: answers(port), LIMIT_SECONDS, f"port {port}")
        return time.perf_counter() - started
    finally:
        if containers:
            subprocess.run(["docker", "rm", "-f", *containers], capture_output=True)


def run(stack: Stack, runs: int) -> list[Row]:
    """Row 4: ``runs`` scale-ups of paas and of the baseline, alternately."""
    workdir = scratch_dir()
    [app] = bench_app_names(1)
    try:
        deploy(stack, tiny_app(workdir), [app])
        image = current_image(stack, app)
        paas_times, cli_times, baseline_times = [], [], []
        for number in range(1, runs + 1):
            baseline_times.append(run_by_hand(image))
            routed, returned = scale_with_paas(stack, app)
            paas_times.append(routed)
            cli_times.append(returned)
            scale_back(stack, app)
            print(f"  scale run {number}: docker run x{INSTANCES} {baseline_times[-1]:.2f} s, "
                  f"paas routed all {routed:.2f} s (CLI returned {returned:.2f} s)", flush=True)
    finally:
        problems = destroy(stack, [app])
        shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            print(f"  could not remove {problems}", flush=True)
    paas, baseline = Samples.of(paas_times), Samples.of(baseline_times)
    cli = Samples.of(cli_times)
    return [Row(
        metric=f"scale web 1 -> {INSTANCES}: healthy and routed", unit="s", paas=paas,
        baseline=baseline, target=f"<= {TARGET_RATIO}x",
        met=paas.median <= TARGET_RATIO * baseline.median,
        notes=(f"baseline: {INSTANCES} sequential docker run -d + wait until each answers; "
               f"paas CLI returned after {cli.median:.2f} s (median)"),
        extra={"cli_returned": cli.median, "cli_returned_min": cli.min,
               "cli_returned_max": cli.max},
    )]


if __name__ == "__main__":
    raise SystemExit(run_alone(run, __doc__.splitlines()[0]))
