"""Make Docker run what should run, without downtime.

``Runtime.converge`` is the single place containers are started and stopped: deploys, scaling,
config changes, rollbacks and the periodic reconcile all end here. It takes plain data (what the
caller wants) and does not record anything; the callers in ``paas.core`` keep the books.

Order of a change, so that what serves keeps serving:
  1. start the missing containers of the wanted release;
  2. wait until every new web container passes its health checks (on failure: remove the new
     containers and raise; the router and the old containers are untouched);
  3. point the router at the healthy web containers (validated reload);
  4. SIGTERM the containers that are no longer wanted, give them time to drain, remove them.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from paas.router.nginx import AppRoute, Router
from paas.runtime.docker_engine import ContainerSpec, DockerEngine, RunningInstance
from paas.runtime.health import HealthCheck, HealthCheckFailed, wait_until_healthy

logger = logging.getLogger(__name__)

# Give nginx's old worker processes a moment to hand over to the new ones after a reload
# before the containers they were proxying to start shutting down.
ROUTER_SETTLE_SECONDS = 1.0


@dataclass(frozen=True)
class DesiredApp:
    """What should run for one app."""

    app: str
    release: int
    image: str
    env: dict[str, str]
    process_types: dict[str, str | None]  # None: the image's own command
    quantities: dict[str, int]
    hostnames: tuple[str, ...]
    healthchecks: tuple[HealthCheck, ...] = ()
    limits: dict[str, dict] = field(default_factory=dict)  # per process type: memory, cpus
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)


def _ignore(_line: str) -> None:
    pass


class Runtime:
    def __init__(self, engine: DockerEngine, router: Router, healthcheck_timeout: float,
                 drain_seconds: int) -> None:
        self.engine = engine
        self.router = router
        self.healthcheck_timeout = healthcheck_timeout
        self.drain_seconds = drain_seconds

    def converge(self, desired: DesiredApp, log: Callable[[str], None] = _ignore) -> list[int]:
        """Make the app's containers match ``desired``; return the web ports now routed.

        Raises HealthCheckFailed (a UserError) or PlatformError; in both cases the containers
        this call started are removed and what was serving before still serves.
        """
        instances = self.engine.instances(desired.app)
        kept: list[RunningInstance] = []
        unwanted: list[RunningInstance] = []
        to_start: list[ContainerSpec] = []

        for instance in instances:
            wanted = (instance.release == desired.release
                      and instance.process_type in desired.process_types
                      and instance.instance <= desired.quantities.get(instance.process_type, 0))
            if wanted and instance.running:
                kept.append(instance)
            else:
                unwanted.append(instance)

        for process_type, quantity in sorted(desired.quantities.items()):
            if process_type not in desired.process_types:
                continue
            have = {i.instance for i in kept if i.process_type == process_type}
            for number in range(1, quantity + 1):
                if number not in have:
                    to_start.append(self._spec(desired, process_type, number))

        started: list[RunningInstance] = []
        try:
            for spec in to_start:
                log(f"       starting {spec.process_type}.{spec.instance}")
                # A dead container holding this instance's name is replaced by start().
                started.append(self.engine.start(spec))
            for instance in started:
                if instance.process_type == "web":
                    self._wait_healthy(instance, desired, log)
        except Exception:
            for instance in started:
                log(f"       removing {instance.process_type}.{instance.instance}")
                self.engine.stop_and_remove(instance, grace_seconds=0)
            raise

        web = [i for i in kept + started if i.process_type == "web"]
        ports = []
        for instance in web:
            refreshed = self.engine.refresh(instance)
            port = refreshed.host_port() if refreshed else None
            if port:
                ports.append(port)
        self.router.set_route(AppRoute(desired.app, desired.hostnames, tuple(sorted(ports))))

        replaced_names = {spec.name for spec in to_start}
        leaving = [i for i in unwanted if i.container.name not in replaced_names]
        if leaving:
            time.sleep(ROUTER_SETTLE_SECONDS)
            for instance in leaving:
                log(f"       stopping {instance.process_type}.{instance.instance} "
                    f"of v{instance.release}")
                self.engine.stop_and_remove(instance, grace_seconds=self.drain_seconds)
        return sorted(ports)

    def stop_app(self, app: str) -> None:
        """Remove every container of ``app`` and its route."""
        self.router.remove_route(app)
        for instance in self.engine.instances(app):
            self.engine.stop_and_remove(instance, grace_seconds=self.drain_seconds)

    def _spec(self, desired: DesiredApp, process_type: str, number: int) -> ContainerSpec:
        limits = desired.limits.get(process_type, {})
        return ContainerSpec(
            app=desired.app,
            release=desired.release,
            process_type=process_type,
            instance=number,
            image=desired.image,
            command=desired.process_types[process_type],
            env={**desired.env, "PAAS_APP": desired.app, "PAAS_RELEASE": str(desired.release),
                 "DYNO": f"{process_type}.{number}"},
            publish=process_type == "web",
            mem_limit=limits.get("memory"),
            nano_cpus=limits.get("nano_cpus"),
            volumes=desired.volumes,
        )

    def _wait_healthy(self, instance: RunningInstance, desired: DesiredApp,
                      log: Callable[[str], None]) -> None:
        refreshed = self.engine.refresh(instance)
        port = refreshed.host_port() if refreshed else None

        def is_running() -> bool:
            current = self.engine.refresh(instance)
            return current is not None and current.container.status in ("running", "created")

        try:
            if port is None:
                raise HealthCheckFailed("the container exited before it could be checked")
            wait_until_healthy(port, list(desired.healthchecks), is_running,
                               self.healthcheck_timeout, log)
        except Exception:
            output = self.engine.logs_tail(instance)
            if output:
                log("       app output:")
                for line in output.splitlines()[-20:]:
                    log(f"       | {line}")
            raise
        log(f"       {instance.process_type}.{instance.instance} is healthy")
