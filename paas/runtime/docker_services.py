"""Backing services' containers on one dockerd: one container per service, on a network of
its own, with its data on a named volume.

Part of the one Docker wrapper (``paas.runtime.docker_engine.DockerEngine``); implements
``paas.runtime.services.ServiceRunner``.

Isolation: the service's container joins only ``paas-<installation>_svc_<name>`` (a /24 of
``PAAS_NETWORK_POOL``, like every app network, so the firewall rules that keep app containers
off the control plane cover it too). An app's containers join it only when the app is linked
(``DesiredApp.services``); Docker keeps bridge networks apart, so any other container has no
route to the service at all, and its name does not even resolve there. Nothing is published
on the host.

Confinement: the same flags and limits as app containers (``confined_create_kwargs``), and
the database runs as the package's own unprivileged user (``postgres`` / ``redis``): the
image makes the data directory theirs, and Docker copies that ownership into a new, empty
named volume, so no root step is needed to start. Docker restarts a crashed service
(``unless-stopped``); the periodic reconcile starts one that is missing or stopped.
"""

import contextlib
import logging
from pathlib import Path
from typing import Any

import docker.errors
from docker.models.containers import Container

from paas.errors import PlatformError
from paas.runtime import docker_service_snapshots
from paas.runtime.confinement import ContainerLimits, confined_create_kwargs
from paas.runtime.docker_client import LABEL_HOME, LABEL_SERVICE, LABEL_SERVICE_KIND, reported
from paas.runtime.docker_containers import CONTAINER_LOG_CONFIG, container_labels
from paas.runtime.docker_networks import LABEL_NETWORK, DockerNetworks, installation_id
from paas.runtime.docker_tty import DETACH_KEYS, DockerTty, exec_exit_code, raw_socket
from paas.runtime.scheduler import Log, Terminal, ignore
from paas.runtime.services import (
    BackingServiceSpec,
    BackingServiceState,
    Writable,
    service_host,
)

logger = logging.getLogger(__name__)

# Where each kind keeps its data in its image (owned by its user there).
DATA_DIRS = {"postgres": "/var/lib/postgresql/data", "redis": "/var/lib/redis"}
RUN_AS = {"postgres": "postgres", "redis": "redis"}
# PostgreSQL's SIGTERM is a "smart" shutdown that waits for every client to leave; SIGINT is
# its fast one (abort sessions, checkpoint, exit), what a restart wants. Redis saves on SIGTERM.
STOP_SIGNALS = {"postgres": "SIGINT", "redis": "SIGTERM"}
STOP_SECONDS = 30  # a database flushes on SIGTERM: give it time before SIGKILL


def service_network_name(home: str, name: str) -> str:
    """``paas-<installation>_svc_<name>``: app networks (``paas-<installation>-<app>``) have
    no ``_``, so no app's network can be a service's."""
    return f"paas-{installation_id(home)}_svc_{name}"


def service_container_name(home: str, name: str) -> str:
    return f"paas-{installation_id(home)}_svc_{name}"


class DockerServices(DockerNetworks):
    """The backing services of this installation."""

    def service_network(self, name: str) -> str:
        return service_network_name(self.home, name)

    def ensure_service_network(self, name: str) -> str:
        """Create service ``name``'s network if it is missing; return its name."""
        return self.ensure_network(self.service_network(name), f"the network of service {name}",
                                   {LABEL_SERVICE: name, LABEL_NETWORK: "service"})

    def ensure_backing_service(self, spec: BackingServiceSpec,
                               log: Log = ignore) -> BackingServiceState:
        """Start ``spec``'s container, creating its network, volume and container as needed.
        Raises PlatformError(service_start_failed)."""
        try:
            network = self.ensure_service_network(spec.name)
            self._ensure_service_volume(spec)
            container = self._service_container(spec.name)
            if container is None:
                log(f"       creating the {spec.kind} container of {spec.name}")
                container = self._create_service_container(spec, network)
            # A restarting one is Docker's to bring back (its restart policy).
            if container.status in ("created", "exited"):
                log(f"       starting {spec.name}")
                container.start()
                container.reload()
        except docker.errors.ImageNotFound as error:
            raise PlatformError(f"the image {spec.image} of {spec.name} is missing",
                                code="service_start_failed") from error
        except docker.errors.APIError as error:
            raise PlatformError(f"could not start service {spec.name}: "
                                f"{error.explanation or error}",
                                code="service_start_failed") from error
        return as_service_state(container)

    def _ensure_service_volume(self, spec: BackingServiceSpec) -> None:
        try:
            self.client.volumes.get(spec.volume)
        except docker.errors.NotFound:
            self.client.volumes.create(spec.volume, labels={
                LABEL_HOME: self.home, LABEL_SERVICE: spec.name,
                LABEL_SERVICE_KIND: spec.kind})

    def _create_service_container(self, spec: BackingServiceSpec, network: str) -> Container:
        password_var = "POSTGRES_PASSWORD" if spec.kind == "postgres" else "REDIS_PASSWORD"
        kwargs = confined_create_kwargs(
            ContainerLimits(memory=spec.memory, pids=spec.pids),
            {spec.volume: {"bind": DATA_DIRS[spec.kind], "mode": "rw"}})
        # The SDK's stubs type restart_policy narrowly; Docker takes this shape.
        restart: Any = {"Name": "unless-stopped"}
        return self.client.containers.create(
            spec.image,
            name=service_container_name(self.home, spec.name),
            user=RUN_AS[spec.kind],
            environment={password_var: spec.password, "PAAS_SERVICE": spec.name},
            labels={LABEL_HOME: self.home, LABEL_SERVICE: spec.name,
                    LABEL_SERVICE_KIND: spec.kind},
            detach=True,
            network=network,
            networking_config={network: self.client.api.create_endpoint_config(
                aliases=[service_host(spec.kind, spec.name)])},
            restart_policy=restart,
            stop_signal=STOP_SIGNALS[spec.kind],
            log_config=CONTAINER_LOG_CONFIG,
            **kwargs,
        )

    def _service_container(self, name: str) -> Container | None:
        with contextlib.suppress(docker.errors.NotFound):
            container = self.client.containers.get(service_container_name(self.home, name))
            if container_labels(container.attrs).get(LABEL_HOME) == self.home:
                return container
        return None

    def backing_service_state(self, name: str) -> BackingServiceState | None:
        container = self._service_container(name)
        return as_service_state(container) if container is not None else None

    def backing_services(self) -> list[BackingServiceState]:
        containers = self.client.containers.list(
            all=True, filters={"label": [f"{LABEL_HOME}={self.home}", LABEL_SERVICE]})
        return [as_service_state(container) for container in containers]

    def restart_backing_service(self, name: str) -> None:
        container = self._service_container(name)
        if container is None:
            raise PlatformError(f"service {name} has no container", code="service_missing")
        container.restart(timeout=STOP_SECONDS)

    def dump_backing_service(self, spec: BackingServiceSpec, out: Writable) -> None:
        """Raises PlatformError(service_not_running / service_backup_failed)."""
        container = self._running_service_container(spec.name)
        try:
            docker_service_snapshots.dump(self.client, container, spec, out)
        except docker.errors.APIError as error:
            raise PlatformError(f"the backup of {spec.name} failed: "
                                f"{error.explanation or error}",
                                code="service_backup_failed") from error

    def restore_backing_service(self, spec: BackingServiceSpec, snapshot: Path) -> None:
        """Raises SnapshotRefused, PlatformError(service_not_running /
        service_restore_failed)."""
        container = self._running_service_container(spec.name)
        try:
            docker_service_snapshots.restore(
                self.client, container, spec, snapshot,
                service_container_name(self.home, spec.name) + "_restore", self.home,
                STOP_SECONDS)
        except docker.errors.APIError as error:
            raise PlatformError(f"the restore of {spec.name} failed: "
                                f"{error.explanation or error}",
                                code="service_restore_failed") from error

    def _running_service_container(self, name: str) -> Container:
        container = self._service_container(name)
        if container is None or container.status != "running":
            raise PlatformError(f"service {name} is not running", code="service_not_running")
        return container

    def remove_backing_service(self, name: str, volume: str | None) -> None:
        container = self._service_container(name)
        if container is not None:
            with contextlib.suppress(docker.errors.APIError):
                container.stop(timeout=STOP_SECONDS)
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        self.remove_network(self.service_network(name))
        if volume is not None:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.volumes.get(volume).remove()

    def open_backing_service_tty(self, name: str, argv: list[str], env: dict[str, str],
                                 terminal: Terminal) -> DockerTty:
        """``docker exec -it`` of ``argv`` in ``name``'s container, as its own user, with
        ``env`` in the exec's environment (not on its command line). Closing the session
        closes the terminal, on which the client reads its end and exits. Raises
        PlatformError(service_missing / service_exec_failed)."""
        container = self._service_container(name)
        if container is None or container.status != "running":
            raise PlatformError(f"service {name} is not running", code="service_missing")
        api = self.client.api
        try:
            exec_id = api.exec_create(container.id, argv, stdin=True, tty=True,
                                      environment={**env, "TERM": terminal.term},
                                      detach_keys=DETACH_KEYS)["Id"]
            hijacked = api.exec_start(exec_id, tty=True, socket=True)
        except docker.errors.APIError as error:
            raise PlatformError(f"could not run {argv[0]} in {name}: "
                                f"{error.explanation or error}",
                                code="service_exec_failed") from error
        session = DockerTty(
            f"{service_container_name(self.home, name)}:{argv[0]}", raw_socket(hijacked),
            resize=lambda rows, cols: api.exec_resize(exec_id, height=rows, width=cols),
            exit_code=lambda: exec_exit_code(api, exec_id), cleanup=lambda: None)
        session.resize(terminal.rows, terminal.cols)
        return session

    def remove_orphan_backing_services(self, known: set[str]) -> list[str]:
        removed = []
        for state in self.backing_services():
            if state.name not in known:
                logger.info("removing the container of orphan service %s", state.name)
                self.remove_backing_service(state.name, volume=None)
                removed.append(service_container_name(self.home, state.name))
        networks = self.client.networks.list(
            filters={"label": [f"{LABEL_HOME}={self.home}", f"{LABEL_NETWORK}=service"]})
        for network in networks:
            name = (network.attrs.get("Labels") or {}).get(LABEL_SERVICE)
            if name and name not in known and self.remove_network(reported(network.name,
                                                                          "network name")):
                removed.append(reported(network.name, "network name"))
        return removed


def as_service_state(container: Container) -> BackingServiceState:
    labels = container_labels(container.attrs)
    return BackingServiceState(name=labels.get(LABEL_SERVICE, ""),
                        kind=labels.get(LABEL_SERVICE_KIND, ""),
                        state=container.status,
                        restart_count=int(container.attrs.get("RestartCount") or 0),
                        id=reported(container.id, "container id"))
