"""The swarm scheduler: each app's process types as Docker Swarm services, on every node of the
swarm that this installation's dockerd manages (``PAAS_SCHEDULER=swarm``).

It implements ``paas.runtime.scheduler.Scheduler`` as the docker scheduler does, so deploys,
scaling, config changes, rollbacks, ``run``, logs, reconcile and destroy take the same path
through ``paas.core``. One service per app and process type (``swarm_services``), replicas from
the formation; images come from the registry (``docker_registry``), which every node pulls from.

How the router reaches the tasks: directly, each on a port of its own node. A web service
publishes port 5000 of every task on a port Swarm picks on the task's node (``PublishMode:
host``), and the router sends to every running task's ``<node address>:<port>`` (127.0.0.1 for
the tasks on this node). Swarm's other way, the routing mesh (one port on every node,
balanced by the kernel's IPVS), would keep the route the same across deploys, but it needs
IPVS, which not every kernel has, and it puts a second balancer behind nginx's. The router
attached to each app's overlay network would need nginx in a container on every app network,
which the host-mode router is not. A host-mode port listens on every address of its node, so
``hostctl up`` adds an iptables rule (``paas.hostctl.firewall.guard_published_tasks``) that
drops connections to it from other machines; on another node the rule lets the manager in
(docs/multi-host.md).

Zero downtime, in Swarm's terms: an update starts each new task first (``order: start-first``)
and moves on only once its health check passes. While it runs, ``converge`` follows the tasks
every poll: a task that is running (healthy) and answers paas's own probe joins the route, a
task Swarm is stopping leaves it. Swarm sends SIGTERM to an old task as soon as its
replacement is healthy; the task's wrapper (``swarm_services.DRAIN_WRAPPER``) holds it back
for a few of those polls, so the router no longer sends it anything when the process starts
draining. A new task that fails makes Swarm roll the service back by itself
(``failure_action: rollback``), and ``converge`` raises, routed to what serves again. Between
deploys, ``unrouted_apps`` finds tasks Swarm moved by itself (a crash, a drained node).
"""

import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from paas.errors import PlatformError, UserError
from paas.router.nginx import Router
from paas.router.route_table import upstream
from paas.runtime.docker_client import (
    LABEL_APP,
    LABEL_ONEOFF,
    LABEL_ONEOFF_TIMEOUT,
    LABEL_PROCESS,
    LABEL_RELEASE,
    LABEL_SPEC,
)
from paas.runtime.docker_containers import keep_newest_lines
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.docker_networks import installation_id
from paas.runtime.docker_scheduler import APP_LOG_MAX_BYTES, docker_errors_as_platform_errors
from paas.runtime.docker_swarm import service_labels, task_labels, task_port
from paas.runtime.health import HealthCheck, HealthCheckFailed, probe, wait_until_healthy
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
from paas.runtime.swarm_services import ROUTE_SETTLE_SECONDS, ServiceSpec

logger = logging.getLogger(__name__)

# Tasks of a new service (or of a scale) that may fail before the change is given up: Swarm
# would replace them for ever.
FAILED_TASKS_BEFORE_GIVING_UP = 3
# Swarm's words for where an update ended when it rolled back by itself.
ROLLED_BACK = ("rollback_completed", "rollback_paused", "paused")
STILL_UPDATING = ("updating", "rollback_started")
# Docker 20.10 picks a host-mode port for IPv4 and for IPv6 apart, so a new task's IPv4 port
# can be one an older task listens on for IPv6; the task then fails to start with this, and
# Swarm rolls the update back. Updating again gets other ports.
PORT_TAKEN = "address already in use"
PORT_TAKEN_RETRIES = 3
FINISHED_TASK = ("complete", "failed", "rejected", "shutdown", "orphaned", "remove")


@dataclass(frozen=True)
class RetiringService:
    """A process type the new release no longer has: its whole service goes after the switch."""

    service_id: str
    process_type: str
    release: int

    @property
    def label(self) -> str:
        return self.process_type


@dataclass
class Change:
    """A service ``converge`` created or changed, and what it must come to."""

    service_id: str
    spec: ServiceSpec
    created: bool
    rolling: bool  # what the tasks run changed: Swarm rolls it out (and back)
    previous_replicas: int = 0


def parse_created(value: str) -> float:
    """Swarm's RFC 3339 time with nanoseconds, as Unix seconds."""
    whole, _, fraction = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00").timestamp()


def task_state(task: dict[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State") or "")


def task_error(task: dict[str, Any]) -> str:
    status = task.get("Status") or {}
    return str(status.get("Err") or status.get("Message") or task_state(task))


def newest_failure(tasks: list[dict[str, Any]]) -> str:
    """The error of the task that failed last, or ""."""
    failed = [t for t in tasks if task_state(t) in ("failed", "rejected")]
    if not failed:
        return ""
    return task_error(max(failed, key=lambda t: str(t.get("UpdatedAt") or "")))


def running_upstreams(tasks: list[dict[str, Any]], addresses: dict[str, str]) -> list[str]:
    """The ``ip:port`` of every web task that runs (past its health check) and that Swarm
    means to keep running; ``addresses`` is node id -> the node's address."""
    found = set()
    for task in tasks:
        port, address = task_port(task), addresses.get(str(task.get("NodeID")))
        if task.get("DesiredState") == "running" and task_state(task) == "running" \
                and port and address:
            found.add(upstream(address, port))
    return sorted(found)


class SwarmScheduler:
    """The apps of one paas installation as services on a swarm this dockerd manages."""

    def __init__(self, engine: DockerEngine, router: Router, healthcheck_timeout: float,
                 drain_seconds: int, app_logs_dir: Path | None = None,
                 poll_seconds: float = 0.5) -> None:
        self.engine = engine
        self.router = router
        self.healthcheck_timeout = healthcheck_timeout
        self.drain_seconds = drain_seconds
        self.app_logs_dir = app_logs_dir or Path(engine.home) / "logs" / "apps"
        self.poll_seconds = poll_seconds
        self.installation = installation_id(engine.home)

    def saved_logs_dir(self, app: str) -> Path:
        # Swarm forgets a stopped task's output once its history drops the task: paas keeps
        # it here, as the docker scheduler keeps a removed container's (``_keep_logs``).
        return self.app_logs_dir / app

    def _keep_logs(self, tasks: list[dict[str, Any]]) -> None:
        """Append the output of each task Swarm stopped for good (replaced by an update, scaled
        away, or of a service about to go) to ``<saved_logs_dir>/v<release>/<type>.<slot>.log``,
        once: ``.kept-tasks`` in the app's directory lists the tasks kept."""
        for task in tasks:
            labels = task_labels(task)
            app, release = labels.get(LABEL_APP), labels.get(LABEL_RELEASE)
            if not app or not release or LABEL_ONEOFF in labels \
                    or task.get("DesiredState") == "running" \
                    or task_state(task) not in FINISHED_TASK:
                continue
            app_dir = self.saved_logs_dir(app)
            index = app_dir / ".kept-tasks"
            task_id = str(task.get("ID"))
            if index.exists() and task_id in index.read_text().split():
                continue
            data = b"".join(self.engine.task_logs(task_id))
            directory = app_dir / f"v{release}"
            directory.mkdir(parents=True, exist_ok=True)
            if data:
                path = directory / f"{labels.get(LABEL_PROCESS)}.{task.get('Slot')}.log"
                with path.open("ab") as log_file:
                    log_file.write(data if data.endswith(b"\n") else data + b"\n")
                keep_newest_lines(path, APP_LOG_MAX_BYTES)
            with index.open("a") as kept:
                kept.write(task_id + "\n")

    # --- what runs ---------------------------------------------------------------------------

    def _app_services(self, app: str | None = None) -> list[Any]:
        with docker_errors_as_platform_errors():
            return [service for service in self.engine.swarm_services(app)
                    if LABEL_ONEOFF not in service_labels(service)]

    def instances(self, app: str | None = None) -> list[Instance]:
        services = {service.id: service for service in self._app_services(app)}
        with docker_errors_as_platform_errors():
            tasks = self.engine.tasks_of(list(services))
            nodes = self.engine.node_names() if tasks else {}
        # Swarm replaces a crashed task with a new one in the same slot: the failed ones it
        # keeps in its history are the slot's restarts.
        failures = Counter((t.get("ServiceID"), t.get("Slot"), task_labels(t).get(LABEL_SPEC))
                           for t in tasks if task_state(t) == "failed")
        found = []
        for task in tasks:
            if task.get("DesiredState") != "running":
                continue
            labels = task_labels(task)
            try:
                release, process_type = int(labels[LABEL_RELEASE]), labels[LABEL_PROCESS]
                app_name = labels[LABEL_APP]
            except (KeyError, ValueError):
                continue
            container = (task.get("Status") or {}).get("ContainerStatus") or {}
            found.append(Instance(
                app=app_name, release=release, process_type=process_type,
                number=int(task.get("Slot") or 0), state=task_state(task),
                port=task_port(task) if process_type == "web" else None,
                restart_count=failures[(task.get("ServiceID"), task.get("Slot"),
                                        labels.get(LABEL_SPEC))],
                exit_code=int(container.get("ExitCode") or 0), id=str(task.get("ID")),
                node=nodes.get(str(task.get("NodeID")), "")))
        return sorted(found, key=lambda i: (i.app, i.process_type, i.number, i.release))

    def logs(self, instance: Instance, follow: bool = False,
             since: float | None = None) -> Iterator[bytes]:
        return self.engine.task_logs(instance.id, follow=follow, since=since)

    def unrouted_apps(self, current: dict[str, int]) -> list[str]:
        # Swarm replaces a crashed task, or the tasks of a drained node, by itself: each new
        # task is on a new port, maybe of another node. Two listings and the route table.
        webs = {str(service.id): service_labels(service).get(LABEL_APP)
                for service in self._app_services()
                if service_labels(service).get(LABEL_PROCESS) == "web"
                and service_labels(service).get(LABEL_APP) in current}
        with docker_errors_as_platform_errors():
            tasks = self.engine.tasks_of(list(webs))
            addresses = self.engine.node_addresses() if tasks else {}
        moved = []
        for service_id, app in sorted(webs.items(), key=lambda item: str(item[1])):
            upstreams = running_upstreams(
                [t for t in tasks if t.get("ServiceID") == service_id], addresses)
            routed = self.router.routed_upstreams(str(app))
            if upstreams and routed is not None and not set(upstreams) <= set(routed):
                logger.info("%s: web tasks listen at %s, the router sends to %s", app,
                            upstreams, list(routed))
                moved.append(str(app))
        return moved

    def nodes(self) -> list[Node]:
        with docker_errors_as_platform_errors():
            listed = self.engine.nodes()
        running: dict[str, list[str]] = {}
        for instance in self.instances():
            running.setdefault(instance.node, []).append(f"{instance.app}:{instance.label}")
        found = []
        for node in listed:
            description, status = node.get("Description") or {}, node.get("Status") or {}
            hostname = str(description.get("Hostname") or "")
            manager = node.get("ManagerStatus") or {}
            found.append(Node(
                id=str(node.get("ID")), hostname=hostname,
                role=str((node.get("Spec") or {}).get("Role") or ""),
                state=str(status.get("State") or ""), address=str(status.get("Addr") or ""),
                availability=str((node.get("Spec") or {}).get("Availability") or ""),
                leader=bool(manager.get("Leader")), tasks=tuple(sorted(running.get(hostname, [])))))
        return sorted(found, key=lambda n: (n.role != "manager", n.hostname))

    def join_command(self) -> str:
        with docker_errors_as_platform_errors():
            return self.engine.worker_join_command()

    # --- removing ----------------------------------------------------------------------------

    def remove_app(self, app: str) -> None:
        self.router.remove_route(app)
        with docker_errors_as_platform_errors():
            for service in self.engine.swarm_services(app):
                self.engine.remove_service(str(service.id))
            self._remove_network_once_free({app})

    def remove_orphans(self, known_apps: set[str]) -> list[str]:
        removed = []
        with docker_errors_as_platform_errors():
            for service in self.engine.swarm_services():
                if service_labels(service).get(LABEL_APP) not in known_apps:
                    logger.info("removing orphan service %s", service.name)
                    self.engine.remove_service(str(service.id))
                    removed.append(str(service.name))
            removed += self.engine.remove_overlay_networks(known_apps=known_apps)
        return removed

    def remove_stale_oneoffs(self, default_timeout: float, grace_seconds: float) -> list[str]:
        removed = []
        now = time.time()
        with docker_errors_as_platform_errors():
            for service in self.engine.oneoff_services():
                labels = service_labels(service)
                try:
                    timeout = float(labels.get(LABEL_ONEOFF_TIMEOUT, default_timeout))
                except ValueError:
                    timeout = default_timeout
                created = parse_created(str(service.attrs.get("CreatedAt") or ""))
                if now - created > timeout + grace_seconds:
                    self.engine.remove_service(str(service.id))
                    removed.append(str(service.name))
        return removed

    def ensure_volume(self, name: str, app: str) -> None:
        # On the manager; each other node makes the (node-local) volume when a task mounts it.
        self.engine.ensure_volume(name, app)

    def remove_volume(self, name: str) -> bool:
        return self.engine.remove_volume(name)

    def _remove_network_once_free(self, apps: set[str]) -> None:
        """Remove the apps' networks once the removed services' tasks have let go of them
        (they drain first); what is still held then, the next reconcile removes."""
        deadline = time.monotonic() + self.drain_seconds + 10
        while any(self.engine.has_overlay_network(app) for app in apps):
            self.engine.remove_overlay_networks(unwanted=apps)
            if time.monotonic() > deadline:
                return
            time.sleep(self.poll_seconds)

    # --- changing what runs ------------------------------------------------------------------

    def converge(self, desired: DesiredApp, log: Log = ignore) -> Retirement:
        """Make each process type's service run ``desired``, and route web to its tasks.

        Returns once every service runs the wanted tasks, healthy, and the router sends to
        each web task; the old release's tasks were stopped by the rolling update on the way
        (so the Retirement holds only services of process types the release no longer has).
        Raises HealthCheckFailed (a UserError) or PlatformError; then Swarm has rolled the
        changed services back, the services this call created are removed, and the route
        is back on what serves.
        """
        refuse_services(desired)
        routed_before = self.router.routed_upstreams(desired.app)
        with docker_errors_as_platform_errors():
            existing = {service_labels(s).get(LABEL_PROCESS): s
                        for s in self._app_services(desired.app)}
            changes = self._apply(desired, existing, log)
        web = next((c.service_id for c in changes if c.spec.process_type == "web"), None) \
            or (str(existing["web"].id) if "web" in existing else None)
        try:
            for change in changes:
                self._wait_converged(change, desired, log)
            upstreams = self._route(desired, web, log)
            # What this and earlier changes stopped (a scale-down's tasks finish later).
            with docker_errors_as_platform_errors():
                self._keep_logs(self.engine.tasks_of(sorted(
                    {c.service_id for c in changes} | {str(s.id) for s in existing.values()})))
        except Exception:
            self._undo(changes, log)
            self._route_back(desired, web, changes, routed_before)
            raise
        retiring = [RetiringService(str(service.id), process_type or "",
                                    int(service_labels(service).get(LABEL_RELEASE) or 0))
                    for process_type, service in existing.items()
                    if process_type not in desired.process_types]
        return Retirement(desired.app, upstreams, retiring, stop=self._retire)

    def _apply(self, desired: DesiredApp, existing: dict[str | None, Any],
               log: Log) -> list[Change]:
        changes: list[Change] = []
        wanted = [t for t in sorted(desired.process_types) if t in desired.quantities]
        if any(desired.quantities.get(t, 0) for t in wanted):
            for volume_name in desired.volumes:
                self.engine.ensure_volume(volume_name, desired.app)
            for app in sorted({desired.app, *desired.links}):
                self.engine.ensure_overlay_network(app)
        for process_type in wanted:
            service = existing.get(process_type)
            spec = self._spec(desired, process_type)
            if service is None:
                if spec.replicas == 0:
                    continue
                log(f"       starting {process_type} ({spec.replicas} tasks of "
                    f"v{desired.release})")
                created = self.engine.create_service(spec)
                changes.append(Change(str(created.id), spec, created=True, rolling=False))
                continue
            rolling = service_labels(service).get(LABEL_SPEC) != spec.spec_hash
            replicas = self._replicas(service)
            if not rolling and replicas == spec.replicas:
                continue
            if rolling:
                log(f"       updating {process_type} to v{desired.release}, one task at a "
                    f"time, each started before an old one stops")
            else:
                log(f"       scaling {process_type} from {replicas} to {spec.replicas}")
            self.engine.update_service(service, spec)
            changes.append(Change(str(service.id), spec, created=False, rolling=rolling,
                                  previous_replicas=replicas))
        return changes

    def _spec(self, desired: DesiredApp, process_type: str) -> ServiceSpec:
        return ServiceSpec(
            installation=self.installation, home=self.engine.home, app=desired.app,
            release=desired.release, process_type=process_type,
            image=self.engine.pull_reference(desired.image),
            command=desired.process_types[process_type], env=desired.base_env(),
            replicas=desired.quantities.get(process_type, 0),
            network=self.engine.overlay_network(desired.app),
            linked_networks=self._linked_networks(desired),
            limits=desired.limits_of(process_type), volumes=desired.volumes,
            read_only_rootfs=desired.read_only_rootfs, healthchecks=desired.healthchecks,
            healthcheck_timeout=self.healthcheck_timeout, drain_seconds=self.drain_seconds)

    def _linked_networks(self, desired: DesiredApp) -> tuple[str, ...]:
        return tuple(sorted(self.engine.overlay_network(other) for other in desired.links
                            if other != desired.app))

    @staticmethod
    def _replicas(service: Any) -> int:
        mode = (service.attrs.get("Spec") or {}).get("Mode") or {}
        return int((mode.get("Replicated") or {}).get("Replicas") or 0)

    def _wait_converged(self, change: Change, desired: DesiredApp, log: Log) -> None:
        """Wait until ``change``'s service runs ``spec.replicas`` healthy tasks of the spec;
        a web service's route follows its tasks meanwhile (``_follow``).

        Raises HealthCheckFailed when Swarm rolled the update back, when new tasks keep
        failing, or past the deadline (each task may take the health-check timeout).
        """
        spec = change.spec
        allowed = self.healthcheck_timeout * (spec.replicas + 1) + 30
        deadline = time.monotonic() + allowed
        announced: set[int] = set()
        retries = PORT_TAKEN_RETRIES
        while True:
            with docker_errors_as_platform_errors():
                service = self.engine.service(change.service_id)
                if service is None:
                    raise PlatformError(f"the {spec.process_type} service of {spec.app} "
                                        "went away during the deploy", code="service_gone")
                tasks = self.engine.tasks_of([change.service_id])
            if spec.publish:
                self._follow(desired, tasks)
            update = (service.attrs.get("UpdateStatus") or {})
            ours = [t for t in tasks if task_labels(t).get(LABEL_SPEC) == spec.spec_hash]
            if change.rolling and service_labels(service).get(LABEL_SPEC) != spec.spec_hash:
                if update.get("State") in ROLLED_BACK:
                    if retries and PORT_TAKEN in newest_failure(ours):
                        retries -= 1
                        log(f"       a new {spec.process_type} task's port was taken on its "
                            "node; updating again")
                        with docker_errors_as_platform_errors():
                            self.engine.update_service(service, spec)
                        continue
                    raise self._failed(spec, ours, f"Swarm rolled {spec.process_type} back "
                                       f"({update.get('Message') or 'update failed'})", log)
            else:
                running = [t for t in ours if t.get("DesiredState") == "running"
                           and task_state(t) == "running"]
                for task in running:
                    if task.get("Slot") not in announced:
                        announced.add(int(task.get("Slot") or 0))
                        log(f"       {spec.process_type}.{task.get('Slot')} is healthy")
                current = [t for t in tasks if t.get("DesiredState") == "running"]
                if len(running) == len(current) == spec.replicas \
                        and update.get("State") not in STILL_UPDATING:
                    return
                # A task whose port was taken is replaced on another port: not the app's fault.
                failed = [t for t in ours if task_state(t) in ("failed", "rejected")
                          and PORT_TAKEN not in task_error(t)]
                if not change.rolling and len(failed) >= FAILED_TASKS_BEFORE_GIVING_UP:
                    raise self._failed(spec, failed, task_error(failed[-1]), log)
            if time.monotonic() > deadline:
                raise self._failed(spec, ours, f"{spec.process_type} was not healthy within "
                                   f"{int(allowed)} seconds", log)
            time.sleep(self.poll_seconds)

    def _failed(self, spec: ServiceSpec, tasks: list[dict[str, Any]], reason: str,
                log: Log) -> HealthCheckFailed:
        """The error for a change that failed, after logging the newest failed task's output."""
        failed = [t for t in tasks if task_state(t) in ("failed", "rejected", "shutdown")]
        if failed:
            newest = max(failed, key=lambda t: str(t.get("UpdatedAt") or ""))
            reason = f"{reason}: {task_error(newest)}"
            with contextlib.suppress(PlatformError, OSError):
                lines = b"".join(self.engine.task_logs(str(newest.get("ID")))).splitlines()
                if lines:
                    log("       app output:")
                    for line in lines[-20:]:
                        text = line.decode("utf-8", "replace").partition(" ")[2]
                        log(f"       | {text}")
        return HealthCheckFailed(reason)

    def _follow(self, desired: DesiredApp, tasks: list[dict[str, Any]]) -> None:
        """Route web to its running tasks that answer paas's probe: a new task joins once it
        answers, a task Swarm stops leaves. While no task is ready the route stays as it is
        (nothing routed is never better than something)."""
        with docker_errors_as_platform_errors():
            addresses = self.engine.node_addresses()
        routed = self.router.routed_upstreams(desired.app) or ()
        ready = [address for address in running_upstreams(tasks, addresses)
                 if address in routed or self._answers(address, desired)]
        if ready and set(ready) != set(routed):
            self.router.set_route(desired.route(tuple(ready)))

    @staticmethod
    def _answers(address: str, desired: DesiredApp) -> bool:
        return all(probe(address, check, timeout=2) is None
                   for check in desired.healthchecks or (HealthCheck(),))

    def _route(self, desired: DesiredApp, web: str | None, log: Log) -> list[str]:
        """Point the router at every running web task; one not routed yet is probed first,
        with the app's own checks."""
        if web is None or not desired.quantities.get("web") \
                or "web" not in desired.process_types:
            self.router.set_route(desired.route(()))
            return []
        with docker_errors_as_platform_errors():
            upstreams = running_upstreams(self.engine.tasks_of([web]),
                                          self.engine.node_addresses())
        if not upstreams:
            raise PlatformError(f"no web task of {desired.app} runs on a published port",
                                code="service_start_failed")
        routed = self.router.routed_upstreams(desired.app) or ()
        for address in upstreams:
            if address not in routed:
                wait_until_healthy(address, [HealthCheck(), *desired.healthchecks],
                                   lambda: True, self.healthcheck_timeout, log)
        self.router.set_route(desired.route(tuple(upstreams)))
        return upstreams

    def _route_back(self, desired: DesiredApp, web: str | None, changes: list[Change],
                    routed_before: tuple[str, ...] | None) -> None:
        """After a failed converge: route to the web tasks that run again (the update rolled
        back), or to what was routed before if this converge made the web service."""
        with contextlib.suppress(PlatformError, HealthCheckFailed):
            created = {c.service_id for c in changes if c.created}
            if web is not None and web not in created:
                with docker_errors_as_platform_errors():
                    tasks = self.engine.tasks_of([web])
                self._follow(desired, tasks)
            elif routed_before is None:
                self.router.remove_route(desired.app)
            else:
                self.router.set_route(desired.route(routed_before))

    def _undo(self, changes: list[Change], log: Log) -> None:
        """Put back what ``converge`` changed: remove what it created, scale back what it
        scaled, and roll back an update Swarm did not roll back itself (a deadline passed)."""
        for change in changes:
            with contextlib.suppress(PlatformError):
                if change.created:
                    log(f"       removing {change.spec.process_type}")
                    self.engine.remove_service(change.service_id)
                    continue
                service = self.engine.service(change.service_id)
                if service is None:
                    continue
                if not change.rolling:
                    self.engine.scale_service(service, change.previous_replicas)
                elif service_labels(service).get(LABEL_SPEC) == change.spec.spec_hash:
                    log(f"       rolling {change.spec.process_type} back")
                    self.engine.rollback_service(service)

    def _retire(self, retiring: Retiring) -> None:
        assert isinstance(retiring, RetiringService)  # converge retires only its own finds
        service = self.engine.service(retiring.service_id)
        if service is not None:
            # Stopped first (each task drains), so that its output can be kept.
            self.engine.scale_service(service, 0)
            deadline = time.monotonic() + self.drain_seconds + ROUTE_SETTLE_SECONDS + 10
            tasks = self.engine.tasks_of([retiring.service_id])
            while any(task_state(t) not in FINISHED_TASK for t in tasks) \
                    and time.monotonic() < deadline:
                time.sleep(self.poll_seconds)
                tasks = self.engine.tasks_of([retiring.service_id])
            self._keep_logs(tasks)
        self.engine.remove_service(retiring.service_id)

    def run_oneoff(self, desired: DesiredApp, command: str, kind: str, timeout: float,
                   log: Log | None = None) -> OneOffResult:
        """Run ``command`` once as a replicated job (one task, never restarted) with the
        release's image, config and volumes; read its exit code and output back, then remove
        it. Raises UserError(image_missing), PlatformError(service_start_failed)."""
        refuse_services(desired)
        for volume_name in desired.volumes:
            self.engine.ensure_volume(volume_name, desired.app)
        with docker_errors_as_platform_errors():
            for app in sorted({desired.app, *desired.links}):
                self.engine.ensure_overlay_network(app)
        spec = ServiceSpec(
            installation=self.installation, home=self.engine.home, app=desired.app,
            release=desired.release, process_type=kind,
            image=self.engine.pull_reference(desired.image), command=command,
            env={**desired.base_env(), "DYNO": f"{kind}.1"}, replicas=1,
            network=self.engine.overlay_network(desired.app),
            linked_networks=self._linked_networks(desired), limits=desired.default_limits,
            volumes=desired.volumes, read_only_rootfs=desired.read_only_rootfs,
            oneoff=kind, timeout=timeout,
            oneoff_name=f"paas-{self.installation}-{desired.app}-{kind}-{os.urandom(4).hex()}")
        service = self.engine.create_service(spec)
        try:
            return self._wait_oneoff(str(service.id), spec, timeout, log)
        finally:
            with contextlib.suppress(PlatformError):
                self.engine.remove_service(str(service.id))

    def open_oneoff_tty(self, desired: DesiredApp, command: str, terminal: Terminal,
                        timeout: float) -> TtySession:
        """Refused: a swarm task runs on whichever node, whose dockerd paas does not attach
        to. Raises UserError(tty_not_supported)."""
        raise UserError("an interactive `paas run` needs the docker scheduler; on a swarm, "
                        "run the command without a terminal", code="tty_not_supported")

    def _wait_oneoff(self, service_id: str, spec: ServiceSpec, timeout: float,
                     log: Log | None) -> OneOffResult:
        deadline = time.monotonic() + timeout
        while True:
            with docker_errors_as_platform_errors():
                tasks = self.engine.tasks_of([service_id])
            done = [t for t in tasks if task_state(t) in FINISHED_TASK]
            if done:
                task = done[0]
                if task_state(task) == "rejected":
                    raise PlatformError(f"Swarm could not run the {spec.oneoff} task of "
                                        f"{spec.app}: {task_error(task)}",
                                        code="container_start_failed")
                exit_code = int(((task.get("Status") or {}).get("ContainerStatus") or {})
                                .get("ExitCode") or 0)
                return OneOffResult(exit_code, self._output(str(task.get("ID")), log))
            if time.monotonic() > deadline:
                output = self._output(str(tasks[0].get("ID")), log) if tasks else ""
                return OneOffResult(124, output, timed_out=True)
            time.sleep(self.poll_seconds)

    def _output(self, task_id: str, log: Log | None) -> str:
        """A finished task's output (its log without Swarm's timestamps), each line logged."""
        lines = []
        with contextlib.suppress(PlatformError, OSError):
            for raw in b"".join(self.engine.task_logs(task_id)).splitlines():
                line = raw.decode("utf-8", "replace").partition(" ")[2]
                lines.append(line + "\n")
                if log:
                    log(line)
        return "".join(lines)


def refuse_services(desired: DesiredApp) -> None:
    """Backing services run as containers on one dockerd, on bridge networks a swarm's tasks
    cannot join: an app linked to one is refused here rather than run without its database.
    Raises UserError(services_unsupported)."""
    if desired.services:
        raise UserError(f"{desired.app} is linked to backing services "
                        f"({', '.join(desired.services)}), which run with the docker "
                        "scheduler only, not on a swarm", code="services_unsupported")
