"""Row 3: what the router costs a keep-alive client, against the app's own container.

The nodejs-express sample (the fastest sample to answer) is deployed and scaled to
``INSTANCES`` web instances. Then, alternately, ``wrk -t1 -c8 -d8s --latency`` (keep-alive, wrk's
default) runs

  paas      through the router (nginx, Host: <app>.localhost), which spreads it over both
            instances, reaching them at their addresses on the app's network;
  baseline  at one web container's published loopback port directly (through Docker's
            userland proxy, as a port mapping is reached from the host);
  container at that container's own address on its network, without the proxy: not a row,
            the notes give it, for what nginx costs against the bare app.

The baseline is one container times ``baseline_factor()``: the instance count where the machine
has a core for each instance besides wrk's and nginx's, else 1, since on fewer cores the
instances only share the same CPUs and two containers answer no faster than one.

Two rows: requests per second (target: at least 0.9x the baseline) and the 99th percentile
latency (target: at most the baseline's plus 1 ms).

Then, like for like, the app is scaled to one instance and the p99 through the router is
measured again against the same direct port: with two instances on 2 cores, the second one
only competes with the first (and with wrk and nginx) for the same CPUs, which shows in the
tail, so this separates what the router's hop costs from what the second instance does. The
p99 row's notes give it; the row's own figures stay the issue's two-instance ones.
"""

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.common import Row, Samples, ratio_row
from bench.measure import (
    BenchError,
    WrkResult,
    app_host,
    destroy_app,
    paas_or_fail,
    push_or_fail,
    router_url,
    web_addresses,
    web_ports,
    wrk,
)
from tests.e2e.stack import Stack, unique_app_name

SAMPLE = "nodejs-express"
GREETING = "Hello from nodejs-express"
INSTANCES = 2
CONNECTIONS = 8
SECONDS = 8
WARM_UP_SECONDS = 2
RATE_TARGET = 0.9
P99_SLACK_MS = 1.0


def baseline_factor(instances: int = INSTANCES, cores: int | None = None) -> int:
    """How many containers' worth the baseline counts: one core each for wrk and nginx, and
    the instances only add throughput when each has a core of its own."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return instances if cores >= instances + 2 else 1


def run(stack: Stack, runs: int) -> list[Row]:
    app = unique_app_name("bench-router")
    with tempfile.TemporaryDirectory(prefix="paas-bench-router-") as workdir:
        repo = stack.checkout(SAMPLE, Path(workdir))
        try:
            push_or_fail(stack, repo, app)
            paas_or_fail(stack, "ps:scale", f"web={INSTANCES}", "-a", app)
            rate_row, p99_row = measure(stack, app, runs)
            paas_or_fail(stack, "ps:scale", "web=1", "-a", app)
            return [rate_row, with_one_instance(stack, app, runs, p99_row)]
        finally:
            destroy_app(stack, app)


def direct_url(stack: Stack, app: str, instances: int) -> str:
    """The URL of one of ``app``'s web containers at its published port, once the router
    answers and ``instances`` of them run. Raises BenchError otherwise."""
    answer = stack.wait_for_answer(app, GREETING)
    ports = web_ports(app)
    if answer.status != 200 or len(ports) != instances:
        raise BenchError(f"{app} is not serving from {instances} instances (ports {ports}, "
                         f"router answered {answer.status})")
    return f"http://127.0.0.1:{ports[0]}/"


def alternately(sides: dict[str, tuple[str, str | None]], runs: int,
                label: str = "") -> dict[str, list[WrkResult]]:
    """``runs`` rounds of one wrk run at each side (name -> URL and Host header), in turn, so
    a noisy moment falls on every side; each round is printed."""
    results: dict[str, list[WrkResult]] = {name: [] for name in sides}
    for number in range(1, runs + 1):
        for name, (url, host) in sides.items():
            results[name].append(wrk(url, host=host, connections=CONNECTIONS, seconds=SECONDS))
        print(f"  {label}run {number}: " + "; ".join(
            f"{name} {done[-1].requests_per_second:.0f} req/s p99 {done[-1].p99_ms:.2f} ms"
            for name, done in results.items()), flush=True)
    return results


def measure(stack: Stack, app: str, runs: int) -> tuple[Row, Row]:
    direct = direct_url(stack, app, INSTANCES)
    own_address = f"http://{web_addresses(app)[0]}/"
    routed, host = router_url(stack), app_host(app)
    factor = baseline_factor()
    # Warm up both paths: node's JIT, nginx's upstream connections.
    wrk(direct, connections=CONNECTIONS, seconds=WARM_UP_SECONDS)
    wrk(routed, host=host, connections=CONNECTIONS, seconds=WARM_UP_SECONDS)
    results = alternately({"baseline": (direct, None), "router": (routed, host),
                           "container's own address": (own_address, None)}, runs)
    baseline, paas = results["baseline"], results["router"]
    container = results["container's own address"]
    errors = {"paas_errors": sum(r.errors for r in paas),
              "baseline_errors": sum(r.errors for r in baseline)}
    own = (Samples.of([r.requests_per_second for r in container]),
           Samples.of([r.p99_ms for r in container]))
    how = (f"wrk -t1 -c{CONNECTIONS} -d{SECONDS}s keep-alive; router to {INSTANCES} web "
           f"instances vs one container's published port x{factor}"
           + ("" if factor > 1 else f" ({os.cpu_count()} cores: wrk and nginx need them too)")
           + f"; that container at its own address: {own[0].median:,.0f} req/s, p99 "
           f"{own[1].median:.2f} ms")
    rate_row = ratio_row(
        f"router throughput, node app, {INSTANCES} instances, keep-alive", "req/s",
        Samples.of([r.requests_per_second for r in paas]),
        Samples.of([r.requests_per_second * factor for r in baseline]),
        at_least=RATE_TARGET, notes=how,
        extra={**errors, "baseline_factor": factor, "container_address_rps": own[0].median})
    paas_p99 = Samples.of([r.p99_ms for r in paas])
    baseline_p99 = Samples.of([r.p99_ms for r in baseline])
    p99_row = Row(
        metric=f"router p99 latency, node app, {INSTANCES} instances, keep-alive", unit="ms",
        paas=paas_p99, baseline=baseline_p99, target=f"<= baseline + {P99_SLACK_MS:g} ms",
        met=paas_p99.median <= baseline_p99.median + P99_SLACK_MS, notes=how,
        extra={**errors, "container_address_p99_ms": own[1].median})
    if errors["paas_errors"]:
        # A fast error is no answer: a row with failed requests has not met its target.
        rate_row = replace(rate_row, met=False,
                           notes=f"{rate_row.notes}; {errors['paas_errors']} failed requests")
    return rate_row, p99_row


def with_one_instance(stack: Stack, app: str, runs: int, p99_row: Row) -> Row:
    """``p99_row`` with the like-for-like p99 in its notes: the router to one instance
    against that instance's published port, alternately, ``runs`` times."""
    direct = direct_url(stack, app, 1)
    routed, host = router_url(stack), app_host(app)
    wrk(routed, host=host, connections=CONNECTIONS, seconds=WARM_UP_SECONDS)
    results = alternately({"baseline": (direct, None), "router": (routed, host)}, runs,
                          label="1 instance, ")
    baseline, paas = results["baseline"], results["router"]
    routed_p99 = Samples.of([r.p99_ms for r in paas]).median
    direct_p99 = Samples.of([r.p99_ms for r in baseline]).median
    return replace(
        p99_row,
        notes=f"{p99_row.notes}; like for like, router to 1 instance: p99 {routed_p99:.2f} ms "
              f"against {direct_p99:.2f} ms at its port",
        extra={**p99_row.extra, "one_instance_p99_ms": routed_p99,
               "one_instance_baseline_p99_ms": direct_p99,
               "one_instance_errors": sum(r.errors for r in paas)})
