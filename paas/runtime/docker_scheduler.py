"""The Docker scheduler: containers on one Docker Engine, behind the nginx router.

``DockerScheduler.converge`` is the single place app containers are started and stopped:
deploys, scaling, config changes, rollbacks and the periodic reconcile all end here. It takes
plain data (what the caller wants) and records nothing; the callers in ``paas.core`` keep the
books. It implements ``paas.runtime.scheduler.Scheduler``.

Order of a change, so that what serves keeps serving:
  1. start the missing containers of the wanted release;
  2. wait until every new web container passes its health checks (on failure: remove the new
     containers and raise; the router and the old containers are untouched);
  3. point the router at the healthy web containers' addresses on their app network (no
     reload unless the hostnames changed); ``converge`` returns
     here, with a ``Retirement``: the new release serves, and the caller can say so;
  4. ``Retirement.run``: SIGTERM the containers that are no longer wanted, give them time to
     drain, remove them. The caller runs it, under the same deploy lock, after its bookkeeping.
"""

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import docker.errors
import requests.exceptions

from paas.errors import PlatformError, UserError
from paas.router.nginx import Router
from paas.runtime.docker_client import reported
from paas.runtime.docker_containers import ContainerSpec, RunningInstance
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.docker_oneoffs import OneOffSpec
from paas.runtime.health import HealthCheckFailed, wait_until_healthy
from paas.runtime.scheduler import (
    DesiredApp,
    Instance,
    Log,
    Node,
    OneOffResult,
    Retirement,
    Retiring,
    Terminal,
    TtySession,
    ignore,
)

logger = logging.getLogger(__name__)

# The saved log of one instance of one release keeps its newest lines up to this size.
APP_LOG_MAX_BYTES = 16 * 1024 * 1024
# How many containers a converge starts (and health-checks) at once: dockerd does much of a
# start in parallel, and a few at a time keep a scale to 20 from crowding a small host.
START_CONCURRENCY = 4
T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def docker_errors_as_platform_errors() -> Iterator[None]:
    """Docker SDK and connection errors become PlatformError(docker_down), as callers above
    the scheduler know nothing of Docker."""
    try:
        yield
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        raise PlatformError(f"Docker failed: {error}", code="docker_down") from error


def side_by_side(call: Callable[[T], R], items: list[T], results: list[R] | None = None) -> None:
    """``call`` each of ``items``, START_CONCURRENCY at a time, appending what each returned to
    ``results`` in the order of ``items``; once all have ended, raise the first failure.

    Scaling to 10 starts 10 containers: one after the other that took 10 times Docker's start
    (and health checks wait on each other). Whatever fails, every success is in ``results``,
    so the caller can remove what it started.
    """
    if len(items) <= 1:
        for item in items:
            outcome = call(item)
            if results is not None:
                results.append(outcome)
        return
    with ThreadPoolExecutor(max_workers=min(START_CONCURRENCY, len(items))) as pool:
        futures = [pool.submit(call, item) for item in items]
    failures = []
    for future in futures:
        try:
            outcome = future.result()
        # Broad on purpose: the first failure is raised once all calls have ended.
        except Exception as error:
            failures.append(error)
            continue
        if results is not None:
            results.append(outcome)
    if failures:
        raise failures[0]


def as_instance(found: RunningInstance) -> Instance:
    """The engine-neutral view of a container paas started."""
    return Instance(app=found.app, release=found.release, process_type=found.process_type,
                    number=found.instance, state=found.container.status,
                    port=found.host_port(), restart_count=found.restart_count,
                    exit_code=found.exit_code,
                    id=reported(found.container.id, "container id"))


class DockerScheduler:
    """The apps of one paas installation as containers on one dockerd."""

    def __init__(self, engine: DockerEngine, router: Router, healthcheck_timeout: float,
                 drain_seconds: int, app_logs_dir: Path | None = None) -> None:
        self.engine = engine
        self.router = router
        self.healthcheck_timeout = healthcheck_timeout
        self.drain_seconds = drain_seconds
        # Logs of removed containers are kept here, per app and release (see paas.core.applogs).
        self.app_logs_dir = app_logs_dir or Path(engine.home) / "logs" / "apps"

    def saved_logs_dir(self, app: str) -> Path:
        return self.app_logs_dir / app

    def logs_dir(self, app: str, release: int) -> Path:
        return self.saved_logs_dir(app) / f"v{release}"

    # --- what runs ---------------------------------------------------------------------------

    def instances(self, app: str | None = None) -> list[Instance]:
        return [as_instance(found) for found in self.engine.instances(app)]

    def logs(self, instance: Instance, follow: bool = False,
             since: float | None = None) -> Iterator[bytes]:
        return self.engine.logs(instance.id, follow=follow, since=since)

    def unrouted_apps(self, current: dict[str, int]) -> list[str]:
        # A web container Docker restarts after a crash may come back on another address of
        # its network. One listing without inspects, and the route table: cheap enough for
        # every few seconds. A container Docker is still restarting is left to Docker (and
        # to the crash-loop report): only a running container at an unrouted address counts.
        with docker_errors_as_platform_errors():
            running = self.engine.web_upstreams()
        moved = []
        for app, release in current.items():
            upstreams = running.get((app, release))
            routed = self.router.routed_upstreams(app)
            if not upstreams or routed is None or set(upstreams) <= set(routed):
                continue
            logger.info("%s: web listens at %s, the router sends to %s", app, upstreams,
                        list(routed))
            moved.append(app)
        return moved

    def nodes(self) -> list[Node]:
        """This one host: everything runs here."""
        with docker_errors_as_platform_errors():
            hostname = str(self.engine.client.info().get("Name") or "")
        tasks = tuple(sorted(f"{i.app}:{i.label}" for i in self.instances() if i.running))
        return [Node(id="", hostname=hostname, role="manager", state="ready",
                     availability="active", leader=True, tasks=tasks)]

    def join_command(self) -> str:
        raise UserError("this installation runs apps on one host; nodes join a swarm "
                        "(PAAS_SCHEDULER=swarm, see docs/multi-host.md)", code="not_a_swarm")

    # --- removing ----------------------------------------------------------------------------

    def remove_app(self, app: str) -> None:
        """Remove every container of ``app`` and its route."""
        self.router.remove_route(app)
        for instance in self.engine.instances(app):
            self._remove(instance, grace_seconds=self.drain_seconds)
        with docker_errors_as_platform_errors():
            self.engine.remove_app_network(app)

    def remove_orphans(self, known_apps: set[str]) -> list[str]:
        removed = []
        for instance in self.engine.instances():
            if instance.app not in known_apps:
                logger.info("removing orphan container %s", instance.name)
                self.engine.stop_and_remove(instance, grace_seconds=self.drain_seconds)
                removed.append(instance.name)
        with docker_errors_as_platform_errors():
            removed += self.engine.remove_orphan_oneoffs(known_apps)
            removed += self.engine.remove_orphan_networks(known_apps)
        return removed

    def remove_stale_oneoffs(self, default_timeout: float, grace_seconds: float) -> list[str]:
        with docker_errors_as_platform_errors():
            return self.engine.remove_stale_oneoffs(default_timeout, grace_seconds=grace_seconds)

    def ensure_volume(self, name: str, app: str) -> None:
        self.engine.ensure_volume(name, app)

    def remove_volume(self, name: str) -> bool:
        return self.engine.remove_volume(name)

    def _remove(self, instance: RunningInstance, grace_seconds: int) -> None:
        self.engine.stop_and_remove(instance, grace_seconds=grace_seconds,
                                    keep_logs_in=self.logs_dir(instance.app, instance.release),
                                    max_log_bytes=APP_LOG_MAX_BYTES)

    # --- changing what runs ------------------------------------------------------------------

    def converge(self, desired: DesiredApp, log: Log = ignore) -> Retirement:
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
        busy_names = {i.name for i in unwanted}

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

        if to_start:
            # Only new containers need them; running ones have them already.
            for volume_name in desired.volumes:
                self.engine.ensure_volume(volume_name, desired.app)
            self._ensure_networks(desired)

        started: list[RunningInstance] = []
        try:
            for spec in to_start:
                log(f"       starting {spec.process_type}.{spec.instance}")
            side_by_side(self.engine.start, to_start, started)
            side_by_side(lambda instance: self._wait_healthy(instance, desired, log),
                         [i for i in started if i.process_type == "web"])
            web = [i for i in kept + started if i.process_type == "web"]
            if started:
                # Health checks took time: Docker may have restarted a kept instance since it
                # was listed, at a new address. Read every address again.
                upstreams = sorted(self._routable_upstreams(web))
            else:
                # Listed a moment ago (the usual reconcile): the listing's addresses.
                upstreams = sorted(address for i in web if (address := self._upstream(i)))
            # nginx refusing the new configuration (a broken file beside it) keeps the old
            # one live: the old containers serve on, and the new ones go.
            self.router.set_route(desired.route(tuple(upstreams)))
        except Exception:
            for instance in started:
                log(f"       removing {instance.process_type}.{instance.instance}")
                self._remove(instance, grace_seconds=0)
            raise
        return Retirement(desired.app, upstreams, unwanted, stop=self._retire)

    def _upstream(self, instance: RunningInstance) -> str | None:
        """Where the router reaches ``instance``: its address on its app's network."""
        return instance.upstream(self.engine.app_network(instance.app))

    def _routable_upstreams(self, web: list[RunningInstance]) -> list[str]:
        upstreams = []
        for instance in web:
            refreshed = self.engine.refresh(instance)
            address = self._upstream(refreshed) if refreshed else None
            if address:
                upstreams.append(address)
        return upstreams

    def _retire(self, instance: Retiring) -> None:
        assert isinstance(instance, RunningInstance)  # converge retires only its own finds
        self._remove(instance, grace_seconds=self.drain_seconds)

    def run_oneoff(self, desired: DesiredApp, command: str, kind: str, timeout: float,
                   log: Log | None = None) -> OneOffResult:
        """Run ``command`` once in a container of ``desired``'s release, with its config and
        volumes (not its ports or routes). Raises what DockerEngine.run_once raises."""
        return self.engine.run_once(self._oneoff_spec(desired, command, kind), timeout=timeout,
                                    log=log)

    def open_oneoff_tty(self, desired: DesiredApp, command: str, terminal: Terminal,
                        timeout: float) -> TtySession:
        """``run`` on a pseudo-terminal: the same one-off container, attached. Raises what
        DockerEngine.open_tty raises."""
        return self.engine.open_tty(self._oneoff_spec(desired, command, "run"), terminal,
                                    timeout=timeout)

    def _oneoff_spec(self, desired: DesiredApp, command: str, kind: str) -> OneOffSpec:
        """The one-off container of ``desired``'s release, its volumes and networks made."""
        for volume_name in desired.volumes:
            self.engine.ensure_volume(volume_name, desired.app)
        self._ensure_networks(desired)
        limits = desired.default_limits
        return OneOffSpec(
            app=desired.app, release=desired.release, image=desired.image, command=command,
            env={**desired.base_env(), "DYNO": f"{kind}.1"}, kind=kind,
            volumes=desired.volumes, mem_limit=limits.get("memory"),
            nano_cpus=limits.get("nano_cpus"), pids_limit=limits.get("pids"),
            read_only_rootfs=desired.read_only_rootfs,
            network=self.engine.app_network(desired.app),
            linked_networks=self._linked_networks(desired),
        )

    def _spec(self, desired: DesiredApp, process_type: str, number: int,
              name_suffix: str = "") -> ContainerSpec:
        limits = desired.limits_of(process_type)
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
            pids_limit=limits.get("pids"),
            read_only_rootfs=desired.read_only_rootfs,
            volumes=desired.volumes,
            network=self.engine.app_network(desired.app),
            linked_networks=self._linked_networks(desired),
            name_suffix=name_suffix,
        )

    def _linked_networks(self, desired: DesiredApp) -> tuple[str, ...]:
        return tuple(sorted([*(self.engine.app_network(other) for other in desired.links
                               if other != desired.app),
                             *(self.engine.service_network(name) for name in desired.services)]))

    def _ensure_networks(self, desired: DesiredApp) -> None:
        """The app's network and those of the apps it is linked to (made if a linked app has
        not deployed yet, so that its containers join the network the link points at)."""
        with docker_errors_as_platform_errors():
            for app in sorted({desired.app, *desired.links}):
                self.engine.ensure_app_network(app)
            for service in desired.services:
                self.engine.ensure_service_network(service)

    def _wait_healthy(self, instance: RunningInstance, desired: DesiredApp,
                      log: Log) -> None:
        # Checked where the router will send its requests.
        refreshed = self.engine.refresh(instance)
        address = self._upstream(refreshed) if refreshed else None

        def is_running() -> bool:
            current = self.engine.refresh(instance)
            return current is not None and current.container.status in ("running", "created")

        try:
            if address is None:
                raise HealthCheckFailed("the container exited before it could be checked")
            wait_until_healthy(address, list(desired.healthchecks), is_running,
                               self.healthcheck_timeout, log)
        except Exception:
            output = self.engine.logs_tail(instance)
            if output:
                log("       app output:")
                for line in output.splitlines()[-20:]:
                    log(f"       | {line}")
            raise
        log(f"       {instance.process_type}.{instance.instance} is healthy")
