"""One-off containers: the release phase and ``run``, each run to completion and removed;
and ``run`` from a terminal, on a pseudo-terminal (``open_tty``).

Part of the one Docker wrapper (``paas.runtime.docker_engine.DockerEngine``).
"""

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import requests.exceptions
from docker.models.containers import Container

from paas.errors import PlatformError, UserError
from paas.runtime.confinement import ContainerLimits, confined_create_kwargs
from paas.runtime.docker_client import (
    LABEL_APP,
    LABEL_HOME,
    LABEL_ONEOFF,
    LABEL_ONEOFF_TIMEOUT,
    LABEL_RELEASE,
    DockerConnection,
    reported,
)
from paas.runtime.docker_tty import DETACH_KEYS, DockerTty, raw_socket
from paas.runtime.lines import split_lines
from paas.runtime.scheduler import Log, OneOffResult, Terminal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OneOffSpec:
    """A one-off container: the release phase or a user's ``run`` command."""

    app: str
    release: int
    image: str
    command: str
    env: dict[str, str]
    kind: str  # "release" or "run"; part of the name and the label
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    mem_limit: str | None = None
    nano_cpus: int | None = None
    pids_limit: int | None = None
    read_only_rootfs: bool = False
    # As for the app's containers: its own network, and those of the apps it is linked to.
    network: str = ""
    linked_networks: tuple[str, ...] = ()

    def create_kwargs(self, home: str, timeout: float) -> dict[str, Any]:
        """``containers.create`` keyword arguments for this one-off, confined like the app's
        containers (see ``paas.runtime.confinement``); its name is random.

        Raises PlatformError(host_mount_refused / no_network).
        """
        if not self.network:
            raise PlatformError(f"the {self.kind} container of {self.app} has no network",
                                code="no_network")
        labels = {LABEL_HOME: home, LABEL_APP: self.app, LABEL_ONEOFF: self.kind,
                  LABEL_RELEASE: str(self.release),
                  LABEL_ONEOFF_TIMEOUT: str(math.ceil(timeout))}
        limits = ContainerLimits(memory=self.mem_limit, nano_cpus=self.nano_cpus,
                                 pids=self.pids_limit, read_only_rootfs=self.read_only_rootfs)
        return dict(
            confined_create_kwargs(limits, self.volumes),
            command=["/bin/sh", "-c", self.command],
            name=f"paas.{self.app}.{self.kind}.{os.urandom(4).hex()}.v{self.release}",
            environment=dict(self.env), labels=labels, detach=True, network=self.network,
        )


class DockerOneOffs(DockerConnection):
    """Containers that run one command of a release and are removed afterwards."""

    def run_once(self, spec: OneOffSpec, timeout: float,
                 log: Log | None = None) -> OneOffResult:
        """Run ``spec`` to completion (or ``timeout``) and return its exit code and output.

        Output lines go to ``log`` as they come. The container is always removed. Raises
        UserError(image_missing) or PlatformError(container_start_failed).
        """
        container = self._create(spec, spec.create_kwargs(self.home, timeout))
        output: list[str] = []
        try:
            self._start(spec, container)
            reader = threading.Thread(target=self._collect_output,
                                      args=(container, output, log), daemon=True)
            reader.start()
            timed_out = False
            try:
                exit_code = int(container.wait(timeout=timeout).get("StatusCode", 1))
            except requests.exceptions.RequestException:
                timed_out = True
                exit_code = 124  # what timeout(1) reports, so scripts can tell
                with contextlib.suppress(docker.errors.APIError):
                    container.kill()
            reader.join(timeout=10)
            return OneOffResult(exit_code, "".join(output), timed_out)
        finally:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)

    def open_tty(self, spec: OneOffSpec, terminal: Terminal, timeout: float) -> DockerTty:
        """Start ``spec`` on a pseudo-terminal of ``terminal``'s size and return the session;
        closing it removes the container (as ``remove_stale_oneoffs`` does once ``timeout``
        has passed, should the session's holder die).

        Attached before it starts, so that not a byte of its output is lost. Raises
        UserError(image_missing) or PlatformError(container_start_failed).
        """
        kwargs = spec.create_kwargs(self.home, timeout)
        kwargs["environment"]["TERM"] = terminal.term
        container = self._create(spec, dict(kwargs, tty=True, stdin_open=True))

        def remove() -> None:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)

        try:
            attached = self.client.api.attach_socket(
                reported(container.id, "container id"),
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1,
                        "detachKeys": DETACH_KEYS})
            self._start(spec, container)
        except (docker.errors.APIError, PlatformError):
            remove()
            raise
        session = DockerTty(
            reported(container.name, "container name"), raw_socket(attached),
            resize=lambda rows, cols: container.resize(height=rows, width=cols),
            exit_code=lambda: int(container.wait(timeout=60).get("StatusCode", 1)),
            cleanup=remove)
        session.resize(terminal.rows, terminal.cols)
        return session

    def _create(self, spec: OneOffSpec, kwargs: dict[str, Any]) -> Container:
        try:
            return self.client.containers.create(spec.image, **kwargs)
        except docker.errors.ImageNotFound as error:
            raise UserError(f"image {spec.image} is missing", code="image_missing") from error
        except docker.errors.APIError as error:
            raise PlatformError(f"could not create the {spec.kind} container: "
                                f"{error.explanation or error}",
                                code="container_start_failed") from error

    def _start(self, spec: OneOffSpec, container: Container) -> None:
        """Join the linked apps' networks, then start. Raises PlatformError."""
        try:
            for network in spec.linked_networks:
                self.client.networks.get(network).connect(container)
            container.start()
        except docker.errors.APIError as error:
            raise PlatformError(f"could not start the {spec.kind} container: "
                                f"{error.explanation or error}",
                                code="container_start_failed") from error

    def remove_stale_oneoffs(self, default_timeout: float, grace_seconds: float = 60,
                             now: float | None = None) -> list[str]:
        """Remove this installation's one-off containers older than their timeout; return
        their names.

        ``run_once`` always removes its container, unless the process running it died (a
        worker killed mid-run): such a container would otherwise run or sit forever. One
        older than its timeout (its label; ``default_timeout`` if it has none) plus
        ``grace_seconds`` (``run_once``'s own kill and clean-up) has no one waiting for it.
        """
        now = time.time() if now is None else now

        def stale(labels: dict[str, str], created: float) -> bool:
            try:
                timeout = float(labels.get(LABEL_ONEOFF_TIMEOUT, default_timeout))
            except ValueError:
                timeout = default_timeout
            return now - created > timeout + grace_seconds

        return self._remove_oneoffs(stale, "stale")

    def remove_orphan_oneoffs(self, known_apps: set[str]) -> list[str]:
        """Remove this installation's one-off containers of apps not in ``known_apps`` (a
        release phase whose worker died before its app was destroyed); return their names."""
        return self._remove_oneoffs(
            lambda labels, created: labels.get(LABEL_APP) not in known_apps, "orphan")

    def _remove_oneoffs(self, unwanted: Callable[[dict[str, str], float], bool],
                        why: str) -> list[str]:
        """Remove the one-off containers for which ``unwanted(labels, created)`` holds."""
        # Sparse: one listing, no inspect per container; labels and the creation time (Unix
        # seconds) are in the listing itself.
        containers = self.client.containers.list(
            all=True, sparse=True,
            filters={"label": [f"{LABEL_HOME}={self.home}", LABEL_ONEOFF]})
        removed = []
        for container in containers:
            labels = container.attrs.get("Labels") or {}
            if not unwanted(labels, float(container.attrs.get("Created") or time.time())):
                continue
            name = (container.attrs.get("Names") or [container.id])[0].lstrip("/")
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as error:
                logger.warning("%s one-off %s not removed: %s", why, name, error)
                continue
            removed.append(name)
        return removed

    @staticmethod
    def _collect_output(container: Container, output: list[str], log: Log | None) -> None:
        try:
            for raw in split_lines(container.logs(stream=True, follow=True), keepends=True):
                line = raw.decode("utf-8", "replace")
                output.append(line)
                if log:
                    log(line.removesuffix("\n"))
        except (docker.errors.APIError, requests.exceptions.RequestException):
            pass
