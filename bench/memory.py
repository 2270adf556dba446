"""Benchmark 6: the control plane's memory, idle with no apps, after `make up`.

Everything `make up` runs lives under one supervisord (Redis, gunicorn, the Celery workers,
nginx), so the control plane is supervisord and all its descendants. For each process it reads
from /proc:

  RSS  resident set size (VmRSS): what `ps` and `top` show. Pages shared between processes
       (a forked child's copy-on-write pages, shared libraries) count in each of them, so the
       sum over-counts; it is the figure the target is stated in.
  PSS  proportional set size (smaps_rollup): each shared page split between its sharers, so
       the sum is what the control plane costs the machine.

Usage, alone (starts its own stack, like the e2e tests):

    .venv/bin/python -m bench.memory [--runs 5]     # or: .venv/bin/python bench/memory.py
    .venv/bin/python -m bench.memory --pid PID      # an already running supervisord

`make bench` calls ``run(stack, runs)``. No assertions: it measures.
"""

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, Samples  # noqa: E402

PROC = Path("/proc")
TARGET_MB = 300
METRIC = "control plane memory (RSS, idle, no apps)"
# After `up` returns the processes still settle (gunicorn's workers import the app on their
# first request, Celery connects, beat sends its first checks): wait, then sample a few
# seconds apart.
SETTLE_SECONDS = 15
SAMPLE_INTERVAL_SECONDS = 3


def _parent_and_name(pid: int, proc: Path = PROC) -> tuple[int, str]:
    stat = (proc / str(pid) / "stat").read_text()
    # The command name is in parentheses and may itself hold spaces or ")".
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    parent = int(stat.rsplit(")", 1)[1].split()[1])
    return parent, name


def _kib(path: Path, field: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def descendants(root_pid: int, proc: Path = PROC) -> list[int]:
    """``root_pid`` and every process below it, parents before children; processes that end
    while being read are left out."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent, _name = _parent_and_name(int(entry.name), proc)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [root_pid]
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(sorted(children.get(pid, [])))
    return found


def _command(pid: int, proc: Path) -> str:
    argv = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    text = " ".join(part.decode("utf-8", "replace") for part in argv if part)
    return text if len(text) <= 160 else text[:157] + "..."


def control_plane_memory(supervisord_pid: int, proc: Path = PROC) -> dict:
    """RSS and PSS (MB) of supervisord and all its descendants, in total and per process.

    Returns ``{"rss_mb", "pss_mb", "processes": [{"pid", "ppid", "name", "command", "rss_mb",
    "pss_mb"}, ...]}``. Raises ProcessLookupError if ``supervisord_pid`` does not run; a
    descendant that ends while being read is left out. PSS needs read access to the process's
    smaps_rollup (same user or root); where it is refused the process's PSS counts as 0.
    """
    if not (proc / str(supervisord_pid)).exists():
        raise ProcessLookupError(f"no process {supervisord_pid}")
    processes: list[dict] = []
    rss_total = pss_total = 0  # KiB
    for pid in descendants(supervisord_pid, proc):
        try:
            parent, name = _parent_and_name(pid, proc)
            rss = _kib(proc / str(pid) / "status", "VmRSS")
            command = _command(pid, proc)
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
        try:
            pss = _kib(proc / str(pid) / "smaps_rollup", "Pss")
        except OSError:
            pss = 0
        rss_total += rss
        pss_total += pss
        processes.append({"pid": pid, "ppid": parent, "name": name, "command": command,
                          "rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1)})
    return {"rss_mb": round(rss_total / 1024, 1), "pss_mb": round(pss_total / 1024, 1),
            "processes": processes}


def supervisord_pid(home: Path) -> int:
    """The pid of the supervisord of the stack whose PAAS_HOME is ``home``."""
    return int((home / "run" / "supervisord.pid").read_text().strip())


def sample(pid: int, runs: int, settle: float = SETTLE_SECONDS,
           interval: float = SAMPLE_INTERVAL_SECONDS) -> list[dict]:
    """``runs`` measurements of supervisord ``pid``'s tree, after ``settle`` seconds idle,
    ``interval`` seconds apart."""
    time.sleep(settle)
    measured = []
    for index in range(runs):
        if index:
            time.sleep(interval)
        measured.append(control_plane_memory(pid))
    return measured


def median_measurement(measurements: list[dict]) -> dict:
    """The measurement whose RSS total is the median (the upper one of an even count)."""
    return sorted(measurements, key=lambda m: m["rss_mb"])[len(measurements) // 2]


def row(measurements: list[dict]) -> Row:
    """The results-table row of these measurements (median RSS against TARGET_MB); the
    per-process breakdown of the median one, and the PSS figures, go in ``extra``."""
    rss = Samples.of([m["rss_mb"] for m in measurements])
    pss = Samples.of([m["pss_mb"] for m in measurements])
    middle = median_measurement(measurements)
    return Row(
        metric=METRIC, unit="MB", paas=rss, baseline=None, target=f"<= {TARGET_MB} MB",
        met=rss.median <= TARGET_MB,
        notes=f"PSS {pss.median:.0f} MB (min {pss.min:.0f}, max {pss.max:.0f}); "
              f"{len(middle['processes'])} processes",
        extra={"pss_mb": pss.median, "pss_mb_min": pss.min, "pss_mb_max": pss.max,
               "processes": middle["processes"]},
    )


def run(stack, runs: int) -> list[Row]:
    """Measure a started ``tests.e2e.stack.Stack`` (idle, no apps deployed) ``runs`` times."""
    return [row(sample(supervisord_pid(stack.home), max(runs, 1)))]


def table(measurement: dict) -> str:
    """The per-process breakdown as text, heaviest first, with the totals."""
    lines = [f"{'pid':>7} {'RSS MB':>7} {'PSS MB':>7}  command"]
    for process in sorted(measurement["processes"], key=lambda p: -p["rss_mb"]):
        lines.append(f"{process['pid']:>7} {process['rss_mb']:>7.1f} {process['pss_mb']:>7.1f}"
                     f"  {process['command']}")
    lines.append(f"{'total':>7} {measurement['rss_mb']:>7.1f} {measurement['pss_mb']:>7.1f}"
                 f"  ({len(measurement['processes'])} processes)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory",
                                     description="the control plane's memory, idle")
    parser.add_argument("--runs", type=int, default=5, help="measurements (default 5)")
    parser.add_argument("--pid", type=int, help="measure this running supervisord instead of "
                        "starting a stack")
    parser.add_argument("--json", action="store_true", help="print the row as JSON too")
    args = parser.parse_args()
    if args.pid:
        measurements = sample(args.pid, args.runs, settle=0)
    else:
        from tests.e2e.stack import Stack

        stack = Stack.create()
        try:
            stack.start()
            measurements = sample(supervisord_pid(stack.home), args.runs)
        finally:
            stack.stop()
    result = row(measurements)
    print(table(median_measurement(measurements)))
    print(f"\n{METRIC}: median {result.paas.median:.1f} MB (min {result.paas.min:.1f}, "
          f"max {result.paas.max:.1f}); target {result.target}: "
          f"{'met' if result.met else 'NOT met'}; {result.notes}")
    if args.json:
        print(json.dumps(result.as_json(), indent=2))


if __name__ == "__main__":
    main()
