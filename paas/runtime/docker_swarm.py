"""Swarm: services, their tasks, the nodes, and one overlay network per app.

Part of the one Docker wrapper (``paas.runtime.docker_engine.DockerEngine``), used by the swarm
scheduler (``paas.runtime.swarm_scheduler``). The dockerd paas talks to is a manager of the
swarm; it starts and removes things and reports them, and decides nothing.
"""

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import docker.errors
import requests.exceptions
from docker.models.services import Service

from paas.errors import PlatformError, UserError
from paas.runtime.docker_client import LABEL_APP, LABEL_HOME, LABEL_ONEOFF, DockerConnection
from paas.runtime.docker_networks import LABEL_NETWORK, app_network_name
from paas.runtime.swarm_services import ServiceSpec

logger = logging.getLogger(__name__)


def service_labels(service: Service) -> dict[str, str]:
    labels: dict[str, str] = ((service.attrs.get("Spec") or {}).get("Labels")) or {}
    return labels


def task_port(task: dict[str, Any]) -> int | None:
    """The port of its node that a web task is published on (``PublishMode: host``), once
    the task has one. The first entry: Docker 20.10 lists the IPv4 binding, then the IPv6 one,
    whose number may differ and may even be another task's IPv4 port."""
    ports = ((task.get("Status") or {}).get("PortStatus") or {}).get("Ports") or []
    if ports and ports[0].get("PublishedPort"):
        return int(ports[0]["PublishedPort"])
    return None


def task_labels(task: dict[str, Any]) -> dict[str, str]:
    spec = (task.get("Spec") or {}).get("ContainerSpec") or {}
    labels: dict[str, str] = spec.get("Labels") or {}
    return labels


class DockerSwarm(DockerConnection):
    """The services, tasks, nodes and overlay networks of this installation on its swarm."""

    @property
    def _swarm_api(self) -> Any:
        # types-docker leaves the SDK's Swarm calls untyped; they are read as Any here, once.
        return self.client.api

    @property
    def _services(self) -> Any:
        return self.client.services

    def overlay_network(self, app: str) -> str:
        # Not the bridge's name: an installation that ran the docker scheduler before may
        # still have that one.
        return f"{app_network_name(self.home, app)}-swarm"

    def ensure_overlay_network(self, app: str) -> str:
        """``app``'s overlay network (attachable, so a one-off's task joins it too); made if
        missing. Swarm gives it a subnet from the swarm's address pool."""
        name = self.overlay_network(app)
        with contextlib.suppress(docker.errors.NotFound):
            self.client.networks.get(name)
            return name
        try:
            self.client.networks.create(
                name, driver="overlay", attachable=True, check_duplicate=True,
                labels={LABEL_HOME: self.home, LABEL_APP: app, LABEL_NETWORK: "swarm"})
        except docker.errors.APIError as error:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.networks.get(name)
                return name  # made meanwhile by a concurrent converge
            raise PlatformError(f"could not create the network of {app}: "
                                f"{error.explanation or error}", code="docker_down") from error
        return name

    def has_overlay_network(self, app: str) -> bool:
        try:
            self.client.networks.get(self.overlay_network(app))
        except docker.errors.NotFound:
            return False
        return True

    def remove_overlay_networks(self, unwanted: set[str] | None = None,
                                known_apps: set[str] | None = None) -> list[str]:
        """Remove the overlay networks of the apps in ``unwanted``, or of every app not in
        ``known_apps``; one still in use (tasks shutting down) stays for the next reconcile."""
        removed = []
        for network in self.client.networks.list(
                filters={"label": [f"{LABEL_HOME}={self.home}", f"{LABEL_NETWORK}=swarm"]}):
            app = (network.attrs.get("Labels") or {}).get(LABEL_APP)
            if not app or (unwanted is not None and app not in unwanted) \
                    or (known_apps is not None and app in known_apps):
                continue
            try:
                network.remove()
            except docker.errors.APIError as error:
                logger.info("network %s not removed yet: %s", network.name, error)
                continue
            removed.append(str(network.name))
        return removed

    def swarm_services(self, app: str | None = None) -> list[Service]:
        """This installation's services (of ``app`` if given), one-offs included."""
        filters = [f"{LABEL_HOME}={self.home}"]
        if app is not None:
            filters.append(f"{LABEL_APP}={app}")
        return list(self._services.list(filters={"label": filters}))

    def create_service(self, spec: ServiceSpec) -> Service:
        """Create ``spec``'s service. Raises UserError(image_missing) if no node can have its
        image, PlatformError(service_start_failed) if Swarm refuses it."""
        try:
            created: Service = self._services.create(**spec.create_kwargs())
            return created
        except docker.errors.APIError as error:
            raise self._refused(spec, error) from error

    def update_service(self, service: Service, spec: ServiceSpec) -> None:
        """Replace ``service``'s spec with ``spec`` (a rolling update if what the tasks run
        changed, a scale if only the replicas did)."""
        try:
            service.reload()
            updating: Any = service
            updating.update(**spec.create_kwargs())
        except docker.errors.APIError as error:
            raise self._refused(spec, error) from error

    @staticmethod
    def _refused(spec: ServiceSpec, error: docker.errors.APIError) -> Exception:
        if error.status_code == 404 or "No such image" in str(error.explanation):
            return UserError(f"image {spec.image} is missing", code="image_missing")
        return PlatformError(f"Swarm refused the {spec.process_type} service of {spec.app}: "
                             f"{error.explanation or error}", code="service_start_failed")

    def rollback_service(self, service: Service) -> None:
        """Put ``service``'s previous spec back (what ``docker service rollback`` does), for
        an update that Swarm did not roll back itself."""
        service.reload()
        previous = service.attrs.get("PreviousSpec")
        if not previous:
            return
        self._swarm_api.update_service(
            str(service.id), service.version, task_template=previous.get("TaskTemplate"),
            name=previous.get("Name"), labels=previous.get("Labels"), mode=previous.get("Mode"),
            update_config=previous.get("UpdateConfig"),
            rollback_config=previous.get("RollbackConfig"),
            endpoint_spec=previous.get("EndpointSpec"))

    def scale_service(self, service: Service, replicas: int) -> None:
        scaling: Any = service
        scaling.scale(replicas)

    def remove_service(self, service_id: str) -> bool:
        """Remove a service (its tasks get SIGTERM and their grace period); False if gone."""
        try:
            self._swarm_api.remove_service(service_id)
        except docker.errors.NotFound:
            return False
        return True

    def service(self, service_id: str) -> Service | None:
        try:
            found: Service = self._services.get(service_id)
        except docker.errors.NotFound:
            return None
        return found

    def tasks_of(self, service_ids: list[str]) -> list[dict[str, Any]]:
        """The tasks (history included, as Swarm keeps it) of the services; one call."""
        if not service_ids:
            return []
        tasks: list[dict[str, Any]] = self._swarm_api.tasks(filters={"service": service_ids})
        return tasks

    def nodes(self) -> list[dict[str, Any]]:
        """The swarm's nodes as Swarm reports them. Raises UserError(not_a_swarm_manager)."""
        try:
            nodes: Any = self.client.nodes
            return [node.attrs for node in nodes.list()]
        except docker.errors.APIError as error:
            raise UserError("this dockerd is not a swarm manager (docker swarm init)",
                            code="not_a_swarm_manager") from error

    def node_addresses(self) -> dict[str, str]:
        """Node id -> the address the router reaches its tasks' ports at: 127.0.0.1 for this
        node (its own ports answer there whatever address it advertises), else the address
        the node joined the swarm with."""
        local = str(((self.client.info().get("Swarm") or {}).get("NodeID")) or "")
        return {str(node["ID"]): "127.0.0.1" if node["ID"] == local
                else str((node.get("Status") or {}).get("Addr") or "")
                for node in self.nodes()}

    def node_names(self) -> dict[str, str]:
        """Node id -> its hostname, for saying where a task runs."""
        return {str(node["ID"]): str((node.get("Description") or {}).get("Hostname") or "")
                for node in self.nodes()}

    def worker_join_command(self) -> str:
        """The ``docker swarm join`` line a new worker runs. Raises
        UserError(not_a_swarm_manager)."""
        try:
            swarm = self.client.swarm
            swarm.reload()
            token = swarm.attrs["JoinTokens"]["Worker"]
            manager = self.client.info()["Swarm"]["RemoteManagers"][0]["Addr"]
        except (docker.errors.APIError, KeyError, IndexError, TypeError) as error:
            raise UserError("this dockerd is not a swarm manager (docker swarm init)",
                            code="not_a_swarm_manager") from error
        return f"docker swarm join --token {token} {manager}"

    def task_logs(self, task_id: str, follow: bool = False,
                  since: float | None = None) -> Iterator[bytes]:
        """A task's output lines with timestamps, from whichever node it runs on. The SDK
        wraps only a service's logs (every task mixed); ``/tasks/<id>/logs`` is the same call
        for one task."""
        api = self._swarm_api
        params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": int(follow),
                  "since": int(since or 0)}
        try:
            response = api._get(api._url("/tasks/{0}/logs", task_id), params=params,
                                stream=True)
            api._raise_for_status(response)
            yield from api._get_result_tty(True, response, False)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return  # the task, or its node, went away

    def oneoff_services(self) -> list[Service]:
        return [s for s in self.swarm_services() if LABEL_ONEOFF in service_labels(s)]
