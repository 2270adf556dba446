"""Long-running containers: one per instance of a process type, found again by their labels.

Part of the one Docker wrapper (``paas.runtime.docker_engine.DockerEngine``): starting,
stopping, inspecting and reading the logs of app containers, and their volumes.
"""

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors
import docker.types
import requests.exceptions
from docker.models.containers import Container

from paas.errors import PlatformError, UserError
from paas.router.route_table import upstream
from paas.runtime.confinement import ContainerLimits, confined_create_kwargs
from paas.runtime.docker_client import (
    CONTAINER_PORT,
    LABEL_APP,
    LABEL_HOME,
    LABEL_INSTANCE,
    LABEL_ONEOFF,
    LABEL_PROCESS,
    LABEL_RELEASE,
    LABEL_SERVICE,
    LABEL_SPEC,
    DockerConnection,
)
from paas.runtime.docker_networks import app_network_name
from paas.runtime.lines import split_lines

logger = logging.getLogger(__name__)

CONTAINER_LOG_CONFIG = docker.types.LogConfig(
    type=docker.types.LogConfig.types.JSON, config={"max-size": "10m", "max-file": "3"})


@dataclass(frozen=True)
class ContainerSpec:
    """What to run: one instance of one process type of one release."""

    app: str
    release: int
    process_type: str
    instance: int
    image: str
    command: str | None
    env: dict[str, str]
    publish: bool  # web processes get a loopback port and a network alias
    labels: dict[str, str] = field(default_factory=dict)
    mem_limit: str | None = None
    nano_cpus: int | None = None
    pids_limit: int | None = None
    read_only_rootfs: bool = False
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    # The app's own network, and the networks of the apps it is linked to (joined without an
    # alias: the link lets this app reach them, not them this app by name).
    network: str = ""
    linked_networks: tuple[str, ...] = ()
    # Set when a running container of the same release/type/instance is being replaced
    # (new limits or volumes) so both can run side by side until the switch.
    name_suffix: str = ""

    @property
    def name(self) -> str:
        # Dots cannot appear in app names or process types, so the name is unambiguous.
        base = f"paas.{self.app}.{self.process_type}.{self.instance}.v{self.release}"
        return f"{base}.{self.name_suffix}" if self.name_suffix else base

    @property
    def spec_hash(self) -> str:
        """Identifies what the container runs; equal hashes need no replacement."""
        facts = [self.image, self.command, sorted(self.env.items()), self.publish,
                 self.mem_limit, self.nano_cpus, sorted(self.volumes.items()),
                 self.pids_limit, self.read_only_rootfs, self.network,
                 sorted(self.linked_networks)]
        return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()[:12]

    @property
    def limits(self) -> ContainerLimits:
        return ContainerLimits(memory=self.mem_limit, nano_cpus=self.nano_cpus,
                               pids=self.pids_limit, read_only_rootfs=self.read_only_rootfs)

    def create_kwargs(self, home: str, restart_retries: int = 5) -> dict[str, Any]:
        """``containers.create`` keyword arguments for this instance, confined (see
        ``paas.runtime.confinement``); the web alias on its network is added by ``start``.

        Raises PlatformError(host_mount_refused) for a volume that is not a named volume,
        PlatformError(no_network) without a network.
        """
        if not self.network:
            raise PlatformError(f"{self.name} has no network", code="no_network")
        labels = {
            **self.labels,
            LABEL_HOME: home,
            LABEL_APP: self.app,
            LABEL_RELEASE: str(self.release),
            LABEL_PROCESS: self.process_type,
            LABEL_INSTANCE: str(self.instance),
            LABEL_SPEC: self.spec_hash,
        }
        env = dict(self.env)
        kwargs: dict[str, Any] = confined_create_kwargs(self.limits, self.volumes)
        if self.publish:
            env["PORT"] = str(CONTAINER_PORT)
            kwargs["ports"] = {f"{CONTAINER_PORT}/tcp": ("127.0.0.1", None)}
        # Passing the command as argv to a shell keeps the Procfile's shell syntax ($PORT, &&)
        # without ever building a shell string from config values: those go through env.
        command = ["/bin/sh", "-c", self.command] if self.command else None
        return dict(
            kwargs,
            command=command,
            name=self.name,
            environment=env,
            labels=labels,
            detach=True,
            network=self.network,
            restart_policy={"Name": "on-failure", "MaximumRetryCount": restart_retries},
            # Docker's own copy of the output, read by logs and saved on removal: capped
            # so a chatty process cannot fill the disk before paas ever sees its log.
            log_config=CONTAINER_LOG_CONFIG,
        )


@dataclass(frozen=True)
class RunningInstance:
    """A container paas started, as found by its labels.

    Its ``container`` comes from a listing (``/containers/json``: no restart count) or from an
    inspect (``refresh``); the properties read either.
    """

    container: Container
    app: str
    release: int
    process_type: str
    instance: int

    @property
    def running(self) -> bool:
        return self.container.status == "running"

    @property
    def label(self) -> str:
        """How logs and messages name it: ``web.1``."""
        return f"{self.process_type}.{self.instance}"

    @property
    def name(self) -> str:
        """The container's name."""
        return container_name(self.container.attrs)

    @property
    def spec_hash(self) -> str:
        return container_labels(self.container.attrs).get(LABEL_SPEC, "")

    @property
    def restart_count(self) -> int:
        """How often Docker restarted it; 0 for a running container only listed (a listing
        does not say), which is all that crash reports read."""
        return int(self.container.attrs.get("RestartCount") or 0)

    @property
    def exit_code(self) -> int:
        state = self.container.attrs.get("State")
        return int(state.get("ExitCode") or 0) if isinstance(state, dict) else 0

    def host_port(self) -> int | None:
        """The loopback port its web process is published on, if any."""
        attrs = self.container.attrs
        if "Config" not in attrs:  # listed: a list of bindings at the top
            return listed_port(attrs)
        ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for binding in ports.get(f"{CONTAINER_PORT}/tcp") or []:
            if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
                return int(binding["HostPort"])
        return None

    def upstream(self, network: str) -> str | None:
        """Where the router reaches its web process (see ``container_upstream``)."""
        return container_upstream(self.container.attrs, network)


def container_upstream(attrs: dict[str, Any], network: str) -> str | None:
    """Where the router reaches a container's web process: ``<its address on network>:<port>``
    (from a listing or an inspect alike), or None if it has no address there (not running).
    Straight to the container, not through the loopback port: that port's userland proxy
    (docker-proxy) would copy every request and answer once more."""
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    address = (networks.get(network) or {}).get("IPAddress")
    return upstream(address, CONTAINER_PORT) if address else None


def listed_port(attrs: dict[str, Any]) -> int | None:
    """The loopback port of CONTAINER_PORT in a listing's ``Ports``, if published."""
    for binding in attrs.get("Ports") or []:
        if (binding.get("PrivatePort") == CONTAINER_PORT and binding.get("PublicPort")
                and binding.get("Type", "tcp") == "tcp"
                and binding.get("IP") in ("127.0.0.1", "", None)):
            return int(binding["PublicPort"])
    return None


def container_labels(attrs: dict[str, Any]) -> dict[str, str]:
    """A container's labels, from an inspect (``Config.Labels``) or a listing (``Labels``)."""
    config = attrs.get("Config")
    labels: dict[str, str] = (config.get("Labels") if config else attrs.get("Labels")) or {}
    return labels


def container_name(attrs: dict[str, Any]) -> str:
    """A container's name, from an inspect (``Name``) or a listing (``Names``)."""
    if attrs.get("Name"):
        return str(attrs["Name"]).lstrip("/")
    names = attrs.get("Names") or [""]
    return str(names[0]).lstrip("/")


def keep_newest_lines(path: Path, max_bytes: int) -> None:
    """Cut ``path`` to at most ``max_bytes``, keeping its newest whole lines."""
    if path.stat().st_size <= max_bytes:
        return
    with path.open("rb") as log_file:
        log_file.seek(-max_bytes, os.SEEK_END)
        tail = log_file.read()
    # Start at a line boundary: a timestamp-less half line would sort first when read.
    newline = tail.find(b"\n")
    tail = tail[newline + 1:] if newline >= 0 else b""
    partial = path.with_suffix(".log.tmp")
    partial.write_bytes(tail)
    partial.replace(path)


class DockerContainers(DockerConnection):
    """App containers and volumes of this installation."""

    def instances(self, app: str | None = None) -> list[RunningInstance]:
        """Containers of this installation (of ``app`` if given), running or not.

        One listing, which has what converging needs (state, labels, port); only containers
        that are not running are inspected too, for their restart count and exit code. A
        reconcile lists every app each interval: this costs a call per app, not per container.
        """
        filters = [f"{LABEL_HOME}={self.home}"]
        if app is not None:
            filters.append(f"{LABEL_APP}={app}")
        containers = self.client.containers.list(all=True, sparse=True,
                                                 filters={"label": filters})
        found = []
        for container in containers:
            labels = container_labels(container.attrs)
            if LABEL_ONEOFF in labels or LABEL_SERVICE in labels:
                continue  # not an app's instance
            if container.status != "running":
                try:
                    container.reload()
                except docker.errors.NotFound:
                    continue  # removed since the listing
            try:
                found.append(RunningInstance(
                    container=container,
                    app=labels[LABEL_APP],
                    release=int(labels[LABEL_RELEASE]),
                    process_type=labels[LABEL_PROCESS],
                    instance=int(labels[LABEL_INSTANCE]),
                ))
            except (KeyError, ValueError):
                logger.warning("container %s has malformed paas labels",
                               container_name(container.attrs))
        return found

    def start(self, spec: ContainerSpec, restart_retries: int = 5) -> RunningInstance:
        """Create and start the container for ``spec`` (replacing a stopped one of that name).

        Its networks must exist (``ensure_app_network``). Raises UserError(image_missing),
        PlatformError(container_start_failed / host_mount_refused).
        """
        self._remove_by_name(spec.name)
        kwargs = spec.create_kwargs(self.home, restart_retries)
        if spec.publish:
            # Containers of apps linked to this one reach its web process by the app's name.
            kwargs["networking_config"] = {
                spec.network: self.client.api.create_endpoint_config(aliases=[spec.app])
            }
        try:
            container = self.client.containers.create(spec.image, **kwargs)
        except docker.errors.ImageNotFound as error:
            raise UserError(f"image {spec.image} is missing", code="image_missing") from error
        except docker.errors.APIError as error:
            raise PlatformError(f"could not start {spec.name}: {error.explanation or error}",
                                code="container_start_failed") from error
        try:
            for network in spec.linked_networks:
                self.client.networks.get(network).connect(container)
            container.start()
            container.reload()
        except docker.errors.APIError as error:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
            raise PlatformError(f"could not start {spec.name}: {error.explanation or error}",
                                code="container_start_failed") from error
        return RunningInstance(container, spec.app, spec.release, spec.process_type,
                               spec.instance)

    def web_upstreams(self) -> dict[tuple[str, int], list[str]]:
        """Where the router reaches this installation's running web containers
        (``ip:port`` on each one's app network), by (app, release).

        One listing, without inspecting each container, so that routes can be checked
        against Docker every few seconds.
        """
        containers = self.client.containers.list(
            sparse=True, filters={"label": [f"{LABEL_HOME}={self.home}", f"{LABEL_PROCESS}=web"],
                                  "status": "running"})
        found: dict[tuple[str, int], set[str]] = {}
        for container in containers:
            labels = container.attrs.get("Labels") or {}
            if LABEL_ONEOFF in labels:
                continue
            try:
                key = (labels[LABEL_APP], int(labels[LABEL_RELEASE]))
            except (KeyError, ValueError):
                continue
            address = container_upstream(container.attrs, app_network_name(self.home, key[0]))
            upstreams = found.setdefault(key, set())
            if address:
                upstreams.add(address)
        return {key: sorted(upstreams) for key, upstreams in found.items()}

    def _remove_by_name(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.client.containers.get(name).remove(force=True)

    def stop_and_remove(self, instance: RunningInstance, grace_seconds: int,
                        keep_logs_in: Path | None = None,
                        max_log_bytes: int | None = None) -> None:
        """SIGTERM, wait up to ``grace_seconds``, then SIGKILL and remove.

        With ``keep_logs_in``, the container's whole log (with timestamps) is appended to
        ``<keep_logs_in>/<type>.<n>.log`` first, so logs outlive the container; with
        ``max_log_bytes`` that file keeps only its newest lines up to that size.
        """
        try:
            instance.container.stop(timeout=grace_seconds)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as error:
            logger.warning("stopping %s: %s", instance.name, error)
        if keep_logs_in is not None:
            self.save_logs(instance, keep_logs_in, max_log_bytes)
        with contextlib.suppress(docker.errors.NotFound):
            instance.container.remove(force=True)

    def save_logs(self, instance: RunningInstance, directory: Path,
                  max_bytes: int | None = None) -> None:
        """Append the container's timestamped log to ``directory/<type>.<n>.log``; with
        ``max_bytes``, drop the file's oldest lines beyond that size."""
        try:
            data = instance.container.logs(timestamps=True)
        except docker.errors.APIError as error:
            logger.warning("could not keep the logs of %s: %s", instance.name, error)
            return
        if not data:
            return
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{instance.label}.log"
        with path.open("ab") as log_file:
            log_file.write(data if data.endswith(b"\n") else data + b"\n")
        if max_bytes is not None:
            keep_newest_lines(path, max_bytes)

    def refresh(self, instance: RunningInstance) -> RunningInstance | None:
        """``instance`` with fresh state from Docker, or None if the container is gone."""
        try:
            instance.container.reload()
        except docker.errors.NotFound:
            return None
        return instance

    def logs_tail(self, instance: RunningInstance, lines: int = 30) -> str:
        try:
            return instance.container.logs(tail=lines).decode("utf-8", "replace")
        except docker.errors.APIError:
            return ""

    def logs(self, container_id: str, follow: bool = False,
             since: float | None = None) -> Iterator[bytes]:
        """Container ``container_id``'s log lines with Docker's RFC 3339 timestamps,
        optionally followed.

        Ends when the container stops (following) or the log is read; never raises for a
        container that went away.
        """
        kwargs: dict[str, Any] = {"timestamps": True}
        if since is not None:
            kwargs["since"] = since
        try:
            container = self.client.containers.get(container_id)
            if not follow:
                yield from container.logs(**kwargs).splitlines()
                return
            yield from split_lines(container.logs(stream=True, follow=True, **kwargs))
        except (docker.errors.NotFound, docker.errors.APIError,
                requests.exceptions.RequestException):
            return

    # --- volumes -----------------------------------------------------------------------------

    def ensure_volume(self, name: str, app: str) -> None:
        """Create the named volume if it does not exist yet (its data is never touched)."""
        try:
            self.client.volumes.get(name)
        except docker.errors.NotFound:
            self.client.volumes.create(name, labels={LABEL_HOME: self.home, LABEL_APP: app})

    def remove_volume(self, name: str) -> bool:
        """Delete a volume and its data; False if it is gone already or still in use."""
        try:
            self.client.volumes.get(name).remove()
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as error:
            logger.info("volume %s not removed: %s", name, error)
            return False
        return True
