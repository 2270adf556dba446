"""What a Swarm service of an app is made from: one service per app and process type (and one
per one-off), described as the keyword arguments of the SDK's ``services.create``.

Plain data, no Docker calls (those are in ``paas.runtime.docker_swarm``), so that every flag
is unit-tested. What the docker scheduler gives a container, a task gets too, where Swarm (in
Docker 20.10, API 1.41) has it:

- the same labels (on the service, and on each task's container), the config as environment,
  ``DYNO`` from the task's slot, ``PORT`` for web;
- the same limits: memory, CPUs and pids (``Resources.Limits.Pids``, API 1.41);
- the confinement defaults of ``paas.runtime.confinement``: every capability dropped, named
  volumes only (``checked_volumes``), never privileged (a service cannot be), an optional
  read-only root filesystem with a tmpfs at /tmp. Not available to services in 20.10:
  ``no-new-privileges`` (service specs have no security options before API 1.44) and a swap
  limit equal to the memory limit;
- deploys as rolling updates that start each new task before stopping an old one
  (``order: start-first``), gated by a health check, rolled back by Swarm itself on failure
  (``failure_action: rollback``), so the old release serves throughout;
- web published the way the router reaches it without Swarm's routing mesh (which needs the
  kernel's IPVS): each task on a port of its own node (``PublishMode: host``, a port Swarm
  picks), found by DNS round robin inside the app's network (``dnsrr``, no virtual IP). Swarm
  stops an old task as soon as its replacement is healthy, before paas can have taken it out
  of the route; so a web task's command runs under ``DRAIN_WRAPPER``, which holds SIGTERM back
  for ``ROUTE_SETTLE_SECONDS`` while paas moves the route, then passes it on.
"""

import hashlib
import json
import math
import shlex
from dataclasses import dataclass, field
from typing import Any

import docker.types

from paas.names import memory_bytes
from paas.runtime.confinement import CAP_DROP, READ_ONLY_TMPFS, checked_volumes
from paas.runtime.docker_client import (
    CONTAINER_PORT,
    LABEL_APP,
    LABEL_HOME,
    LABEL_ONEOFF,
    LABEL_ONEOFF_TIMEOUT,
    LABEL_PROCESS,
    LABEL_RELEASE,
    LABEL_SPEC,
)
from paas.runtime.health import HealthCheck
from paas.runtime.scheduler import Limits

SECOND_NS = 1_000_000_000
# How often a task's health check runs, and how many failures in a row make it unhealthy. A
# new task counts as running (and is routed, and an update moves on) only once it is healthy.
HEALTH_INTERVAL_NS = SECOND_NS
HEALTH_RETRIES = 3
# How long an update watches each new task after it is healthy before it moves on: a task that
# crashes right after its first good answer still rolls the update back.
UPDATE_MONITOR_NS = 2 * SECOND_NS
# How long a stopping web task keeps serving before its process gets SIGTERM: several of the
# scheduler's polls, so the router has stopped sending it requests by then.
ROUTE_SETTLE_SECONDS = 2
# Runs a web task's command ($1) in a process group of its own (``setsid``) and holds a SIGTERM
# (or SIGINT) back for ROUTE_SETTLE_SECONDS before passing it to the whole group, so a command
# that does not ``exec`` its server still has the server told. Then it waits until the group
# is gone (the server drains) and exits with the command's status. ``wait`` returns early when
# a trap runs, hence the first loop. The task runs under Docker's init (``init: true``), which
# reaps what outlives the command's shell.
DRAIN_WRAPPER = (
    "trap 'sleep \"$PAAS_ROUTE_SETTLE\"; kill -TERM -\"$child\" 2>/dev/null"
    " || kill -TERM \"$child\" 2>/dev/null' TERM INT\n"
    "if command -v setsid >/dev/null 2>&1; then setsid /bin/sh -c \"$1\" &"
    " else /bin/sh -c \"$1\" & fi\n"
    "child=$!\n"
    "while :; do wait \"$child\"; status=$?; kill -0 \"$child\" 2>/dev/null || break; done\n"
    "while kill -0 -\"$child\" 2>/dev/null; do sleep 0.2; done\n"
    "exit $status"
)
# A Swarm service name is one DNS label.
MAX_SERVICE_NAME = 63
READ_ONLY_TMPFS_BYTES = 64 * 1024 * 1024


def service_name(installation: str, app: str, process_type: str) -> str:
    """``paas-<installation>-<app>-<type>``; a long process type is shortened to its hash so
    the name stays one DNS label (labels, not the name, are how paas finds a service)."""
    name = f"paas-{installation}-{app}-{process_type}"
    if len(name) > MAX_SERVICE_NAME:
        name = f"paas-{installation}-{app}-{hashlib.sha256(process_type.encode()).hexdigest()[:8]}"
    return name


def health_command(checks: tuple[HealthCheck, ...]) -> list[str]:
    """The HEALTHCHECK a web task runs inside its own container, on its own port.

    The same rules as paas's own probe (``paas.runtime.health.probe``): the default check
    passes on anything but a server error, an app.json check fails on 4xx too and on missing
    content. It needs python3 in the image (every buildpack image and the stack have it);
    without python3 it only checks that something listens on the port, and paas's own probe
    of each task (``SwarmScheduler``) still applies every check before the task is routed.
    """
    wanted = [(check.path, check.content, 500 if check.name == "default" else 400,
               min(check.timeout, 5.0)) for check in checks or (HealthCheck(),)]
    program = (
        "import json,sys,urllib.error,urllib.request\n"
        f"for path,content,bad,timeout in json.loads({json.dumps(json.dumps(wanted))}):\n"
        "    try:\n"
        f"        r=urllib.request.urlopen('http://127.0.0.1:{CONTAINER_PORT}'+path,"
        "timeout=timeout)\n"
        "        status,body=r.status,r.read(65536)\n"
        "    except urllib.error.HTTPError as e:\n"
        "        status,body=e.code,e.read(65536)\n"
        "    if status>=bad or (content is not None and content.encode() not in body):\n"
        "        sys.exit(1)\n"
    )
    # /proc/net/tcp{,6}: a socket listening (state 0A) on the port, in hex.
    listening = f"grep -qE ':{CONTAINER_PORT:04X} [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6"
    script = (f"if command -v python3 >/dev/null 2>&1; then exec python3 -c "
              f"{shlex.quote(program)}; fi; {listening}")
    return ["CMD-SHELL", script]


def resources(limits: Limits) -> docker.types.Resources:
    """Memory and CPU limits, and the pids limit the SDK has no keyword for (API 1.41)."""
    memory = limits.get("memory")
    result = docker.types.Resources(mem_limit=memory_bytes(memory) if memory else None,
                                    cpu_limit=limits.get("nano_cpus"))
    if limits.get("pids"):
        result.setdefault("Limits", {})["Pids"] = limits["pids"]
    return result


def mounts(volumes: dict[str, dict[str, str]], read_only_rootfs: bool) -> list[docker.types.Mount]:
    """Named volumes only (``checked_volumes`` raises for anything else), and a tmpfs at /tmp
    under a read-only root filesystem."""
    found = [docker.types.Mount(target=mount["bind"], source=name, type="volume",
                                read_only=mount.get("mode", "rw") == "ro")
             for name, mount in sorted(checked_volumes(volumes).items())]
    if read_only_rootfs:
        for path in READ_ONLY_TMPFS:
            found.append(docker.types.Mount(target=path, source=None, type="tmpfs",
                                            tmpfs_size=READ_ONLY_TMPFS_BYTES))
    return found


@dataclass(frozen=True)
class ServiceSpec:
    """One service: a process type of one release (``oneoff`` empty), or a one-off command
    (``oneoff`` is ``release`` or ``run``: a replicated job, run once, never restarted)."""

    installation: str
    home: str
    app: str
    release: int
    process_type: str
    image: str
    command: str | None
    env: dict[str, str]
    replicas: int
    network: str
    linked_networks: tuple[str, ...] = ()
    limits: Limits = field(default_factory=lambda: Limits())
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    read_only_rootfs: bool = False
    healthchecks: tuple[HealthCheck, ...] = ()
    healthcheck_timeout: float = 60
    drain_seconds: int = 10
    oneoff: str = ""
    oneoff_name: str = ""
    timeout: float = 0

    @property
    def publish(self) -> bool:
        return self.process_type == "web" and not self.oneoff

    @property
    def name(self) -> str:
        if self.oneoff:
            return self.oneoff_name
        return service_name(self.installation, self.app, self.process_type)

    @property
    def spec_hash(self) -> str:
        """Identifies what each task runs (not how many): equal hashes need no update."""
        facts = [self.image, self.command, sorted(self.env.items()), self.network,
                 sorted(self.linked_networks), sorted(self.limits.items()),
                 sorted(self.volumes.items()), self.read_only_rootfs,
                 [check.__dict__ for check in self.healthchecks], self.drain_seconds]
        return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()[:12]

    def labels(self) -> dict[str, str]:
        labels = {LABEL_HOME: self.home, LABEL_APP: self.app, LABEL_RELEASE: str(self.release),
                  LABEL_PROCESS: self.process_type}
        if self.oneoff:
            labels[LABEL_ONEOFF] = self.oneoff
            labels[LABEL_ONEOFF_TIMEOUT] = str(math.ceil(self.timeout))
        else:
            labels[LABEL_SPEC] = self.spec_hash
        return labels

    def args(self) -> list[str] | None:
        """The task's arguments (CMD, not the ENTRYPOINT, so the image's entrypoint runs them,
        as ``docker run IMAGE CMD`` does on one host); a web command under DRAIN_WRAPPER. None:
        the image's own command, which paas cannot wrap (its SIGTERM is not held back)."""
        if not self.command:
            return None
        if not self.publish:
            return ["/bin/sh", "-c", self.command]
        return ["/bin/sh", "-c", DRAIN_WRAPPER, "paas-drain", self.command]

    def create_kwargs(self) -> dict[str, Any]:
        """``services.create`` (and ``Service.update``: the whole spec, every time) keyword
        arguments. Raises PlatformError(host_mount_refused) for a volume that is not named."""
        env = dict(self.env)
        if self.publish:
            env["PORT"] = str(CONTAINER_PORT)
            env["PAAS_ROUTE_SETTLE"] = str(ROUTE_SETTLE_SECONDS)
        if not self.oneoff:
            # A template Swarm fills in per task: web.1, web.2, ... as on one host.
            env["DYNO"] = f"{self.process_type}.{{{{.Task.Slot}}}}"
        # Linked apps' containers reach this app's web tasks by the app's name.
        networks = [docker.types.NetworkAttachmentConfig(
            self.network, aliases=[self.app] if self.publish else None)]
        networks += [docker.types.NetworkAttachmentConfig(name)
                     for name in self.linked_networks]
        kwargs: dict[str, Any] = dict(
            image=self.image, name=self.name, labels=self.labels(),
            container_labels=self.labels(),
            args=self.args(),
            env=[f"{key}={value}" for key, value in sorted(env.items())],
            networks=networks, resources=resources(self.limits),
            mounts=mounts(self.volumes, self.read_only_rootfs),
            read_only=self.read_only_rootfs, cap_drop=list(CAP_DROP),
            stop_grace_period=(self.drain_seconds
                               + (ROUTE_SETTLE_SECONDS if self.publish else 0)) * SECOND_NS,
        )
        if self.oneoff:
            kwargs["mode"] = docker.types.ServiceMode("replicated-job", replicas=1,
                                                      concurrency=1)
            kwargs["restart_policy"] = docker.types.RestartPolicy(condition="none")
            return kwargs
        kwargs["mode"] = docker.types.ServiceMode("replicated", replicas=self.replicas)
        # A crashed task is replaced (on any node) after a pause; crash loops show in the
        # task history that ``instances`` reads.
        kwargs["restart_policy"] = docker.types.RestartPolicy(
            condition="any", delay=2 * SECOND_NS, max_attempts=0)
        kwargs["update_config"] = docker.types.UpdateConfig(
            parallelism=1, order="start-first", failure_action="rollback",
            monitor=UPDATE_MONITOR_NS, max_failure_ratio=0)
        kwargs["rollback_config"] = docker.types.RollbackConfig(
            parallelism=0, order="start-first", failure_action="pause",
            monitor=UPDATE_MONITOR_NS)
        if self.publish:
            kwargs["init"] = True  # reaps what outlives DRAIN_WRAPPER's shell
            kwargs["healthcheck"] = docker.types.Healthcheck(
                test=health_command(self.healthchecks), interval=HEALTH_INTERVAL_NS,
                timeout=5 * SECOND_NS, retries=HEALTH_RETRIES,
                start_period=int(self.healthcheck_timeout * SECOND_NS))
            # Each task on a port Swarm picks on its own node; the router sends to every
            # running task's node address and port (see SwarmScheduler).
            kwargs["endpoint_spec"] = {"Mode": "dnsrr", "Ports": [
                {"Protocol": "tcp", "TargetPort": CONTAINER_PORT, "PublishMode": "host"}]}
        return kwargs
