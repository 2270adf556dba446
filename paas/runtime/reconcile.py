"""Make Docker run what should run, without downtime.

``Runtime.converge`` is the single place containers are started and stopped: deploys, scaling,
config changes, rollbacks and the periodic reconcile all end here. It takes plain data (what the
caller wants) and does not record anything; the callers in ``paas.core`` keep the books.

Order of a change, so that what serves keeps serving:
  1. start the missing containers of the wanted release;
  2. wait until every new web container passes its health checks (on failure: remove the new
     containers and raise; the router and the old containers are untouched);
  3. point the router at the healthy web containers (validated reload); ``converge`` returns
     here, with a ``Retirement``: the new release serves, and the caller can say so;
  4. ``Retirement.run``: SIGTERM the containers that are no longer wanted, give them time to
     drain, remove them. The caller runs it, under the same deploy lock, after its bookkeeping.
"""

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from paas.router.nginx import AppRoute, Router
from paas.runtime.docker_containers import ContainerSpec, RunningInstance
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.docker_oneoffs import OneOffResult, OneOffSpec
from paas.runtime.health import HealthCheck, HealthCheckFailed, wait_until_healthy

logger = logging.getLogger(__name__)

# Give nginx's old worker processes a moment to hand over to the new ones after a reload
# before the containers they were proxying to start shutting down.
ROUTER_SETTLE_SECONDS = 1.0
# The saved log of one instance of one release keeps its newest lines up to this size.
APP_LOG_MAX_BYTES = 16 * 1024 * 1024


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
    # Per process type: {"memory": "256m", "nano_cpus": 500_000_000}.
    limits: dict[str, dict] = field(default_factory=dict)
    # Docker volume name -> {"bind": mount path, "mode": "rw"}; created if missing.
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)

    def base_env(self) -> dict[str, str]:
        """The config plus what paas tells every process about itself."""
        return {**self.env, "PAAS_APP": self.app, "PAAS_RELEASE": str(self.release)}


def _ignore(_line: str) -> None:
    pass


@dataclass
class Retirement:
    """The second half of a converge: the containers the router no longer sends requests to.

    ``converge`` returns it once the router serves ``ports`` (the web ports routed now); the
    caller records that the new release serves, then calls ``run``, still under the app's
    deploy lock so that nothing else converges while the old containers drain.
    """

    app: str
    ports: list[int]
    instances: list[RunningInstance] = field(default_factory=list)
    # How to stop one container (SIGTERM, drain, keep its logs, remove); set by the Runtime.
    stop: Callable[[RunningInstance], None] | None = None

    def run(self, log: Callable[[str], None] = _ignore) -> list[str]:
        """Let the router settle, then stop the old containers side by side.

        Never raises: an old container that cannot be stopped is logged (and returned as a
        message) and left to the next reconcile, which finds it unwanted again. Whatever
        happens here, the new release already serves and stays serving.
        """
        if not self.instances or self.stop is None:
            return []
        # nginx's old workers hand over to the new ones after a reload; let in-flight
        # requests to these containers finish before they are told to stop.
        time.sleep(ROUTER_SETTLE_SECONDS)
        for instance in self.instances:
            log(f"       stopping {instance.process_type}.{instance.instance} "
                f"of v{instance.release}")
        stop = self.stop
        problems: list[str] = []

        def retire(instance: RunningInstance) -> None:
            try:
                stop(instance)
            # Broad on purpose: this runs after the switch, and nothing that goes wrong while
            # an old container shuts down may reach the caller as a failed deploy.
            except Exception as error:  # noqa: BLE001
                logger.warning("could not retire %s of %s", instance.container.name,
                               self.app, exc_info=True)
                problems.append(f"could not stop {instance.label} of v{instance.release} "
                                f"({error}); the next reconcile removes it")

        # Side by side: each drains for up to the grace period, and the deploy lock is held
        # meanwhile.
        with ThreadPoolExecutor(max_workers=min(8, len(self.instances))) as pool:
            list(pool.map(retire, self.instances))
        for problem in problems:
            log(f"       {problem}")
        return problems


class Runtime:
    def __init__(self, engine: DockerEngine, router: Router, healthcheck_timeout: float,
                 drain_seconds: int, app_logs_dir: Path | None = None) -> None:
        self.engine = engine
        self.router = router
        self.healthcheck_timeout = healthcheck_timeout
        self.drain_seconds = drain_seconds
        # Logs of removed containers are kept here, per app and release (see paas.core.applogs).
        self.app_logs_dir = app_logs_dir or Path(engine.home) / "logs" / "apps"

    def logs_dir(self, app: str, release: int) -> Path:
        return self.app_logs_dir / app / f"v{release}"

    def _remove(self, instance: RunningInstance, grace_seconds: int) -> None:
        self.engine.stop_and_remove(instance, grace_seconds=grace_seconds,
                                    keep_logs_in=self.logs_dir(instance.app, instance.release),
                                    max_log_bytes=APP_LOG_MAX_BYTES)

    def converge(self, desired: DesiredApp, log: Callable[[str], None] = _ignore) -> Retirement:
        """Start what ``desired`` lacks, health-check it and point the router at it.

        Returns as soon as the router serves the wanted web containers, with the containers
        that are no longer wanted still running: the caller must ``run()`` the returned
        Retirement (it never raises) once it has recorded the change.

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
                      and instance.instance <= desired.quantities.get(instance.process_type, 0)
                      and instance.spec_hash == self._spec(
                          desired, instance.process_type, instance.instance).spec_hash
                      and instance.instance not in {i.instance for i in kept
                                                    if i.process_type == instance.process_type})
            if wanted and instance.running:
                kept.append(instance)
            else:
                unwanted.append(instance)

        # Dead containers serve nothing: clear them first (keeping their logs) so their names
        # are free for the replacements.
        for instance in [i for i in unwanted if not i.running]:
            self._remove(instance, grace_seconds=0)
        unwanted = [i for i in unwanted if i.running]
        busy_names = {i.container.name for i in unwanted}

        for process_type, quantity in sorted(desired.quantities.items()):
            if process_type not in desired.process_types:
                continue
            have = {i.instance for i in kept if i.process_type == process_type}
            for number in range(1, quantity + 1):
                if number not in have:
                    spec = self._spec(desired, process_type, number)
                    if spec.name in busy_names:
                        # Same release, new limits or volumes: run the replacement beside it.
                        spec = self._spec(desired, process_type, number, spec.spec_hash[:6])
                    to_start.append(spec)

        for volume_name in desired.volumes:
            self.engine.ensure_volume(volume_name, desired.app)

        started: list[RunningInstance] = []
        try:
            for spec in to_start:
                log(f"       starting {spec.process_type}.{spec.instance}")
                started.append(self.engine.start(spec))
            for instance in started:
                if instance.process_type == "web":
                    self._wait_healthy(instance, desired, log)
        except Exception:
            for instance in started:
                log(f"       removing {instance.process_type}.{instance.instance}")
                self._remove(instance, grace_seconds=0)
            raise

        ports = sorted(self._routable_ports([i for i in kept + started
                                             if i.process_type == "web"]))
        self.router.set_route(AppRoute(desired.app, desired.hostnames, tuple(ports)))
        return Retirement(desired.app, ports, unwanted, stop=self._retire)

    def _routable_ports(self, web: list[RunningInstance]) -> list[int]:
        ports = []
        for instance in web:
            refreshed = self.engine.refresh(instance)
            port = refreshed.host_port() if refreshed else None
            if port:
                ports.append(port)
        return ports

    def _retire(self, instance: RunningInstance) -> None:
        self._remove(instance, grace_seconds=self.drain_seconds)

    def run_oneoff(self, desired: DesiredApp, command: str, kind: str, timeout: float,
                   log: Callable[[str], None] | None = None) -> OneOffResult:
        """Run ``command`` once in a container of ``desired``'s release, with its config and
        volumes (not its ports or routes). Raises what DockerEngine.run_once raises."""
        for volume_name in desired.volumes:
            self.engine.ensure_volume(volume_name, desired.app)
        spec = OneOffSpec(
            app=desired.app, release=desired.release, image=desired.image, command=command,
            env={**desired.base_env(), "DYNO": f"{kind}.1"}, kind=kind,
            volumes=desired.volumes,
        )
        return self.engine.run_once(spec, timeout=timeout, log=log)

    def stop_app(self, app: str) -> None:
        """Remove every container of ``app`` and its route."""
        self.router.remove_route(app)
        for instance in self.engine.instances(app):
            self._remove(instance, grace_seconds=self.drain_seconds)

    def _spec(self, desired: DesiredApp, process_type: str, number: int,
              name_suffix: str = "") -> ContainerSpec:
        limits = desired.limits.get(process_type, {})
        return ContainerSpec(
            app=desired.app,
            release=desired.release,
            process_type=process_type,
            instance=number,
            image=desired.image,
            command=desired.process_types[process_type],
            env={**desired.base_env(), "DYNO": f"{process_type}.{number}"},
            publish=process_type == "web",
            mem_limit=limits.get("memory"),
            nano_cpus=limits.get("nano_cpus"),
            volumes=desired.volumes,
            name_suffix=name_suffix,
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
