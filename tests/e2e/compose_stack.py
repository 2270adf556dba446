"""The paas control plane as ``docker compose up`` runs it from docker-compose.yml, for tests.

``ComposeStack.start()`` builds the images (FROM the stack image, as on a server without a
registry) and brings the project up with its own name, ports, ``PAAS_HOME`` and image tags, so
it collides with no other stack on this machine's dockerd; ``stop()`` brings it down with its
volumes and images, and removes the app containers, networks and volumes it made (labelled
``paas.home`` with its ``PAAS_HOME``).

It is a ``Stack`` for what a user does from outside: ``checkout``, ``push`` (a real
``git push``), ``get`` and ``wait_for_answer`` (real HTTP through the compose router). Its
``home`` is ``PAAS_HOME`` inside the containers (a named volume), not a path on this host, so
the ``Stack`` helpers that read PAAS_HOME's files from the host (``server_ref``,
``redis_cli``, ``supervisorctl``, ``kill_program``) do not apply to it.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import docker

from tests.e2e.stack import PROJECT_DIR, Stack, free_port

# Debian's docker CLI, the one paas builds with (paas.runtime.docker_client.DEFAULT_DOCKER_CLI);
# make compose-plugin installs the plugin where it (and any other docker CLI) finds it.
DOCKER_CLI = "/usr/bin/docker"
COMPOSE_FILE = PROJECT_DIR / "docker-compose.yml"
# What the migrate service prints once (paas.hostctl init), as an operator reads it.
CREDENTIALS_RE = re.compile(r"admin user '(?P<username>[^']+)', password '(?P<password>[^']+)', "
                            r"API token (?P<token>\S+)")
LABEL_HOME = "paas.home"


@dataclass
class ComposeStack(Stack):
    project: str = ""
    # Where the admin's `paas login` is kept on this host (home is inside the containers).
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="paas-compose-")))

    @classmethod
    def create(cls) -> "ComposeStack":
        suffix = uuid.uuid4().hex[:8]
        return cls(home=Path(f"/var/lib/paas-compose-{suffix}"), control_port=free_port(),
                   router_port=free_port(), redis_port=free_port(),
                   project=f"paas-e2e-{suffix}")

    @property
    def env(self) -> dict:
        """The environment docker-compose.yml reads: this stack's ports, home and image tags
        (tags of its own, so that `down --rmi` takes only the images it built)."""
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("PAAS_", "DJANGO_", "REDIS_URL", "DATABASE_URL",
                                      "COMPOSE_"))}
        env.update({
            "COMPOSE_PROJECT_NAME": self.project,
            "PAAS_HOME": str(self.home),
            "PAAS_CONTROL_PORT": str(self.control_port),
            "PAAS_ROUTER_PORT": str(self.router_port),
            "PAAS_REDIS_PORT": str(self.redis_port),
            "PAAS_CONTROLPLANE_IMAGE": f"paas/controlplane:{self.project}",
            "PAAS_POSTGRES_IMAGE": f"paas/controlplane-postgres:{self.project}",
        })
        return env

    @property
    def cli_config(self) -> Path:
        return self.scratch / "cli" / "config.json"

    def compose(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([DOCKER_CLI, "compose", "--project-directory", str(PROJECT_DIR),
                               "--file", str(COMPOSE_FILE), *args],
                              env=self.env, capture_output=True, text=True, timeout=timeout)

    def start(self) -> "ComposeStack":
        version = self.compose("version")
        if version.returncode != 0:
            raise RuntimeError("the Docker Compose v2 plugin is missing (make compose-plugin "
                               f"installs it): {version.stderr.strip()}")
        # Build first, on its own, so that a failing build says so rather than timing out `up`.
        built = self.compose("build", timeout=1800)
        if built.returncode != 0:
            raise RuntimeError(f"docker compose build failed:\n{built.stdout[-4000:]}\n"
                               f"{built.stderr[-4000:]}")
        up = self.compose("up", "--detach", "--wait")
        if up.returncode != 0:
            raise RuntimeError(f"docker compose up failed:\n{up.stderr[-4000:]}\n"
                               f"{self.compose('ps', '--all').stdout}\n{self.logs()}")
        migrate_log = self.compose("logs", "--no-log-prefix", "migrate").stdout
        found = CREDENTIALS_RE.search(migrate_log)
        if found is None:
            raise RuntimeError(f"the migrate service printed no credentials:\n{migrate_log}")
        self.username, self.password, self.token = (found["username"], found["password"],
                                                    found["token"])
        return self

    def stop(self) -> None:
        """Down with volumes, networks and the images it built, then the app containers,
        networks and volumes paas made on the host's dockerd for this stack's PAAS_HOME (and
        the apps' images). Every step runs whatever the ones before it did."""
        try:
            self.compose("down", "--volumes", "--rmi", "all", "--remove-orphans")
        finally:
            try:
                remove_app_objects(str(self.home), self.apps)
            finally:
                shutil.rmtree(self.scratch, ignore_errors=True)

    def logs(self) -> str:
        return self.compose("logs", "--tail", "40").stdout

    def services(self) -> dict[str, dict]:
        """``docker compose ps --all`` by service: State, Health, ExitCode, ..."""
        listed = self.compose("ps", "--all", "--format", "json").stdout.strip()
        # One JSON object a line (Compose >= 2.21), or one array (before).
        rows = json.loads(listed) if listed.startswith("[") else [
            json.loads(line) for line in listed.splitlines() if line.strip()]
        return {row["Service"]: row for row in rows}


def remove_app_objects(home: str, apps: set[str]) -> None:
    """Remove the containers, networks and volumes labelled ``paas.home=home``, and the
    images of ``apps``."""
    client = docker.from_env()
    try:
        by_home = {"label": f"{LABEL_HOME}={home}"}
        for container in client.containers.list(all=True, filters=by_home):
            container.remove(force=True)
        for network in client.networks.list(filters=by_home):
            network.remove()
        for volume in client.volumes.list(filters=by_home):
            volume.remove(force=True)
        for app in apps:
            for image in client.images.list(name=f"paas/{app}"):
                client.images.remove(image.id, force=True)
    finally:
        client.close()

