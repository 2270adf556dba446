"""Benchmark 7: what the control plane's lists and its reconcile cost with 100 apps deployed,
against the same figures with 1 app.

  dashboard  a logged-in GET of the dashboard's app list (``/``), as a browser sends it
  api        ``GET /api/apps`` with the admin's token, as the CLI's ``apps`` sends it
  reconcile  one full ``paas.core.reconcile.reconcile_all`` pass, timed inside one Django
             process of the stack (``manage.py shell``) after a warm-up pass, so the figure is
             the pass itself, not the process's start-up

Each figure is measured with 1 app deployed, then with 100 (the same tiny Dockerfile app
pushed under 99 more names, a few pushes at a time), then with 1 again once the 99 are
destroyed: the 1-app baseline is taken on both sides, so a drift in the machine's load between
the two does not show up as growth. The one app is a plain user's, whose lists (one app
whatever is deployed) are measured in turns with the admin's: the notes give the 100-app list
against that one at the same moments too. Targets: dashboard and API at most 1.5x the 1-app figure;
reconcile linear or better (at most 100x, and the per-app time is shown). Every app is
destroyed at the end, whatever happens.
Run alone: ``.venv/bin/python -m bench.growth --runs 3``.
"""

import json
import shutil
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass, field

from bench.common import Row, Samples
from bench.fleet import (
    Dashboard,
    bench_app_names,
    deploy,
    destroy,
    run_alone,
    scratch_dir,
    timed,
    tiny_app,
)
from tests.e2e.stack import PROJECT_DIR, Stack

APPS = 100
LIST_TARGET = 1.5
PUSH_CONCURRENCY = 3
# Run in the stack's own environment: time reconcile_all passes after a warm-up one. A pass
# that skipped an app (the periodic reconcile held its lock) did less work: it is measured
# again, up to a few times.
RECONCILE_SCRIPT = textwrap.dedent("""\
    import json, logging, time
    from paas.core.reconcile import reconcile_all

    class Skips(logging.Handler):
        count = 0
        def emit(self, record):
            if "skipped" in record.getMessage():
                Skips.count += 1

    logging.getLogger("paas.core.reconcile").addHandler(Skips())
    reconcile_all()
    times, retried = [], 0
    while len(times) < {runs} and retried < 3 * {runs}:
        Skips.count = 0
        started = time.perf_counter()
        reconcile_all()
        elapsed = time.perf_counter() - started
        if Skips.count:
            retried += 1
        else:
            times.append(elapsed)
    print("RECONCILE " + json.dumps({{"times": times, "retried": retried}}))
""")


def reconcile_passes(stack: Stack, runs: int) -> tuple[list[float], int]:
    """Seconds of ``runs`` full reconcile passes, and how many passes were measured again."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", RECONCILE_SCRIPT.format(runs=runs)],
        cwd=PROJECT_DIR, env=stack.env, capture_output=True, text=True, timeout=1800)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RECONCILE ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"the reconcile passes failed:\n{result.stdout}\n{result.stderr}")
    found = json.loads(lines[-1].removeprefix("RECONCILE "))
    if not found["times"]:
        raise RuntimeError("every reconcile pass skipped an app: the periodic one held locks")
    return found["times"], found["retried"]


@dataclass
class Viewer:
    """Who lists the apps: a dashboard session and an API token."""

    dashboard: Dashboard
    token: str
    dashboard_ms: list[float] = field(default_factory=list)
    api_ms: list[float] = field(default_factory=list)

    def list_apps(self, stack: Stack, apps: int) -> None:
        """List the apps once on each side, checking that ``apps`` are listed."""
        seconds, page = timed(lambda: self.dashboard.get("/"))
        self.dashboard_ms.append(1000 * seconds)
        listed = page.count('<tr data-app="')
        if listed != apps:
            raise RuntimeError(f"the dashboard lists {listed} apps, not {apps}")
        seconds, answer = timed(lambda: stack.api("GET", "/apps", token=self.token))
        self.api_ms.append(1000 * seconds)
        if answer.status != 200 or len(answer.json()) != apps:
            raise RuntimeError(f"GET /api/apps: {answer.status} {answer.body[:200]}")


def measure(stack: Stack, admin: Viewer, solo: Viewer, apps: int, runs: int) -> dict:
    """Each figure's measurements with ``apps`` apps deployed: the admin's lists (every app),
    with, in turns, the lists of a user who owns one of them."""
    admin.dashboard_ms, admin.api_ms, solo.dashboard_ms, solo.api_ms = [], [], [], []
    for _ in range(max(20, 10 * runs)):
        admin.list_apps(stack, apps)
        solo.list_apps(stack, 1)
    reconcile_s, retried = reconcile_passes(stack, max(3, runs))
    print(f"  {apps} app(s): dashboard {Samples.of(admin.dashboard_ms).median:.1f} ms, "
          f"API {Samples.of(admin.api_ms).median:.1f} ms, reconcile "
          f"{Samples.of(reconcile_s).median:.3f} s ({retried} pass(es) measured again); "
          f"a user who sees 1: dashboard {Samples.of(solo.dashboard_ms).median:.1f} ms, "
          f"API {Samples.of(solo.api_ms).median:.1f} ms", flush=True)
    return {"dashboard": admin.dashboard_ms, "api": admin.api_ms, "reconcile": reconcile_s,
            "retried": retried, "solo_dashboard": solo.dashboard_ms, "solo_api": solo.api_ms}


def run(stack: Stack, runs: int) -> list[Row]:
    """Row 7, three rows: dashboard list, API list and reconcile pass, 100 apps vs 1.

    The 1-app figures are measured before the other apps are deployed and again once they
    are destroyed, so that the baseline follows the machine's load if it drifts meanwhile.
    """
    workdir = scratch_dir()
    names = bench_app_names(APPS)
    problems: list[str] = []
    owner = None
    try:
        repo = tiny_app(workdir)
        # The first app is a plain user's: their lists show it alone all along, measured in
        # turns with the admin's, so what the machine's load does to both is seen side by side.
        owner = stack.create_user(f"solo-{uuid.uuid4().hex[:6]}")
        deploy(stack, repo, names[:1], as_user=owner)
        admin = Viewer(Dashboard(stack), stack.token)
        solo = Viewer(Dashboard(stack, owner.username, owner.password), owner.token)
        before = measure(stack, admin, solo, 1, runs)
        print(f"  deploying {APPS - 1} more apps, {PUSH_CONCURRENCY} pushes at a time ...",
              flush=True)
        deploy_seconds, _ = timed(lambda: deploy(stack, repo, names[1:], PUSH_CONCURRENCY))
        print(f"  deployed in {deploy_seconds:.0f} s", flush=True)
        many = measure(stack, admin, solo, APPS, runs)
        problems += destroy(stack, names[1:])
        after = measure(stack, admin, solo, 1, runs)
    finally:
        problems += destroy(stack, names)
        if owner is not None:
            stack.paas("users:deactivate", owner.username)
        shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            print(f"  could not remove {len(problems)} app(s): {problems[:3]}", flush=True)
    one = {key: Samples.of(before[key] + after[key])
           for key in ("dashboard", "api", "reconcile")}
    hundred = {key: Samples.of(many[key]) for key in ("dashboard", "api", "reconcile")}
    rows = []
    for key, what in (("dashboard", "dashboard app list"), ("api", "API app list")):
        beside = Samples.of(many[f"solo_{key}"]).median
        rows.append(Row(
            metric=f"{what}, {APPS} apps vs 1", unit="ms", paas=hundred[key],
            baseline=one[key], target=f"<= {LIST_TARGET}x",
            met=hundred[key].median <= LIST_TARGET * one[key].median,
            notes=f"baseline: the same request with 1 app (before and after); median of "
                  f"{len(hundred[key].values)} requests with {APPS} apps, "
                  f"{len(one[key].values)} with 1; in turns with the {APPS}-app list, a "
                  f"user's list of 1 took {beside:.1f} ms "
                  f"({hundred[key].median / beside:.2f}x)",
            extra={"one_app_list_beside_ms": round(beside, 2)}))
    per_app_ms = 1000 * hundred["reconcile"].median / APPS
    rows.append(Row(
        metric=f"reconcile pass, {APPS} apps vs 1", unit="s", paas=hundred["reconcile"],
        baseline=one["reconcile"], target=f"<= {APPS}x (linear or better)",
        met=hundred["reconcile"].median <= APPS * one["reconcile"].median,
        notes=f"baseline: the pass with 1 app (before and after); {per_app_ms:.0f} ms per "
              f"app with {APPS} apps",
        extra={"per_app_ms": round(per_app_ms, 1),
               "passes_measured_again": before["retried"] + many["retried"] + after["retried"],
               "deploy_seconds": round(deploy_seconds, 1)}))
    return rows


if __name__ == "__main__":
    raise SystemExit(run_alone(run, __doc__.splitlines()[0]))
