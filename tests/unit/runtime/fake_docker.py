"""A fake Docker Engine (``DockerEngine``'s container part) for the Docker scheduler's unit
tests: containers in a dict, in the spirit of MemoryRepo. Core's tests use tests/fakes.py's
in-memory scheduler instead."""

import threading
from dataclasses import dataclass, field
from pathlib import Path

from paas.errors import PlatformError
from paas.runtime.docker_client import (
    LABEL_APP,
    LABEL_INSTANCE,
    LABEL_PROCESS,
    LABEL_RELEASE,
    LABEL_SPEC,
)
from paas.runtime.docker_containers import ContainerSpec, RunningInstance
from paas.runtime.docker_oneoffs import OneOffSpec
from paas.runtime.scheduler import OneOffResult


def address_of(port: int) -> str:
    """A fake container's address on its network, one for each of its loopback ports."""
    return f"10.1.{port // 256 % 256}.{port % 256}"


@dataclass
class FakeContainer:
    name: str
    labels: dict
    status: str = "running"
    port: int | None = None
    ip: str | None = None  # its address on its app's network
    restart_count: int = 0
    exit_code: int = 0
    log: bytes = b""
    id: str = ""

    @property
    def attrs(self) -> dict:
        """As an inspect gives them."""
        ports = {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(self.port)}]} \
            if self.port else {}
        networks = {f"paas-fake-{self.labels[LABEL_APP]}": {"IPAddress": self.ip}} \
            if self.ip else {}
        return {"Name": f"/{self.name}", "Config": {"Labels": self.labels},
                "NetworkSettings": {"Ports": ports, "Networks": networks},
                "RestartCount": self.restart_count,
                "State": {"Status": self.status, "ExitCode": self.exit_code}}

    @property
    def upstream(self) -> str | None:
        """Where the router reaches it."""
        return f"{self.ip}:5000" if self.ip else None

    def reload(self) -> None:
        pass


@dataclass
class FakeDocker:
    """Containers in a dict; every start/stop is recorded in ``events`` (shared with the
    router, so tests can check the order of switch and drain)."""

    events: list = field(default_factory=list)
    containers: dict = field(default_factory=dict)
    home: str = "/tmp/paas-fake-home"
    next_port: int = 40000
    fail_start: set = field(default_factory=set)
    fail_stop: set = field(default_factory=set)
    oneoff_result: OneOffResult = field(default_factory=lambda: OneOffResult(0, "done\n"))
    oneoffs: list = field(default_factory=list)
    volumes: set = field(default_factory=set)
    saved_logs: dict = field(default_factory=dict)
    networks: set = field(default_factory=set)
    # What converge asked for: listings (of which app), containers read again, networks.
    listings: list = field(default_factory=list)
    refreshed: list = field(default_factory=list)
    network_checks: int = 0
    port_lock: threading.Lock = field(default_factory=threading.Lock)

    def app_network(self, app: str) -> str:
        return f"paas-fake-{app}"

    def ensure_app_network(self, app: str) -> str:
        self.network_checks += 1
        self.networks.add(self.app_network(app))
        return self.app_network(app)

    def service_network(self, name: str) -> str:
        return f"paas-fake_svc_{name}"

    def ensure_service_network(self, name: str) -> str:
        self.networks.add(self.service_network(name))
        return self.service_network(name)

    def remove_app_network(self, app: str) -> bool:
        if self.app_network(app) not in self.networks:
            return False
        self.networks.discard(self.app_network(app))
        return True

    def remove_orphan_oneoffs(self, known_apps: set) -> list:
        return []  # this fake runs one-offs to completion at once

    def remove_orphan_networks(self, known_apps: set) -> list:
        orphans = sorted(n for n in self.networks
                         if n.removeprefix("paas-fake-") not in known_apps)
        self.networks -= set(orphans)
        return orphans

    def add(self, app: str, release: int, process_type: str, instance: int,
            spec_hash: str = "", **state) -> FakeContainer:
        name = f"paas.{app}.{process_type}.{instance}.v{release}"
        if "port" not in state and process_type == "web":
            state["port"] = self._port()
        if state.get("port") and "ip" not in state:
            state["ip"] = address_of(state["port"])
        container = FakeContainer(name=name, id=name, labels={
            LABEL_APP: app, LABEL_RELEASE: str(release), LABEL_PROCESS: process_type,
            LABEL_INSTANCE: str(instance), LABEL_SPEC: spec_hash}, **state)
        self.containers[name] = container
        return container

    def _port(self) -> int:
        with self.port_lock:  # converge starts containers from several threads
            self.next_port += 1
            return self.next_port

    def instances(self, app: str | None = None) -> list[RunningInstance]:
        self.listings.append(app)
        return [RunningInstance(c, c.labels[LABEL_APP], int(c.labels[LABEL_RELEASE]),
                                c.labels[LABEL_PROCESS], int(c.labels[LABEL_INSTANCE]))
                for c in self.containers.values() if app in (None, c.labels[LABEL_APP])]

    def start(self, spec: ContainerSpec) -> RunningInstance:
        if spec.name in self.fail_start:
            raise PlatformError("cannot start", code="container_start_failed")
        self.containers.pop(spec.name, None)
        port = self._port() if spec.publish else None
        container = FakeContainer(
            name=spec.name, id=spec.name, port=port, ip=address_of(port) if port else None,
            labels={LABEL_APP: spec.app, LABEL_RELEASE: str(spec.release),
                    LABEL_PROCESS: spec.process_type, LABEL_INSTANCE: str(spec.instance),
                    LABEL_SPEC: spec.spec_hash})
        container.spec = spec
        self.containers[spec.name] = container
        self.events.append(("start", spec.name))
        return RunningInstance(container, spec.app, spec.release, spec.process_type,
                               spec.instance)

    def stop_and_remove(self, instance: RunningInstance, grace_seconds: int,
                        keep_logs_in: Path | None = None,
                        max_log_bytes: int | None = None) -> None:
        if instance.container.name in self.fail_stop:
            raise PlatformError("Docker is not reachable", code="docker_down")
        self.events.append(("stop", instance.container.name, grace_seconds))
        if keep_logs_in is not None:
            self.saved_logs[instance.container.name] = keep_logs_in
        self.containers.pop(instance.container.name, None)

    def refresh(self, instance: RunningInstance) -> RunningInstance | None:
        self.refreshed.append(instance.container.name)
        return instance if instance.container.name in self.containers else None

    def logs_tail(self, instance: RunningInstance, lines: int = 30) -> str:
        return instance.container.log.decode()

    def logs(self, container_id: str, follow: bool = False,
             since: float | None = None):
        container = self.containers.get(container_id)
        return iter(container.log.splitlines() if container else [])

    def ensure_volume(self, name: str, app: str) -> None:
        self.volumes.add(name)

    def run_once(self, spec: OneOffSpec, timeout: float, log=None) -> OneOffResult:
        self.oneoffs.append(spec)
        self.events.append(("oneoff", spec.kind))
        return self.oneoff_result
