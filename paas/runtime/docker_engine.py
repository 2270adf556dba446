"""The one wrapper around Docker Engine.

Every Docker call paas makes goes through here: the docker SDK's models API for images, containers
and networks, and the docker CLI for builds (see ``build_image`` for why). This module starts and
stops things; it does not decide what should run or record anything — the callers do.
"""

import contextlib
import hashlib
import io
import json
import logging
import os
import selectors
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from paas.core.errors import PlatformError, UserError

logger = logging.getLogger(__name__)

LABEL_APP = "paas.app"
LABEL_RELEASE = "paas.release"
LABEL_PROCESS = "paas.process"
LABEL_INSTANCE = "paas.instance"
# Which paas installation (PAAS_HOME) owns a container, so that reconcile and orphan cleanup of
# one installation never touch another's containers on a shared dockerd.
LABEL_HOME = "paas.home"
# A hash of everything a container was created from (image, command, env, limits, volumes):
# a running instance whose hash differs from the wanted one is replaced.
LABEL_SPEC = "paas.spec"
# One-off containers (release phase, ``run``) carry this instead of the instance labels, so
# reconcile neither counts them as instances nor removes them as orphans while they run.
LABEL_ONEOFF = "paas.oneoff"

APP_NETWORK = "paas"
CONTAINER_PORT = 5000

# The Docker CLI with BuildKit built in (Debian's docker.io 20.10). The SDK only speaks the
# legacy builder, which cannot mount a file into a build step without leaving it in a layer.
DEFAULT_DOCKER_CLI = "/usr/bin/docker"


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
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
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
                 self.mem_limit, self.nano_cpus, sorted(self.volumes.items())]
        return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()[:12]


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


@dataclass(frozen=True)
class OneOffResult:
    exit_code: int
    output: str
    timed_out: bool = False


@dataclass(frozen=True)
class RunningInstance:
    """A container paas started, as found by its labels."""

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
    def spec_hash(self) -> str:
        return self.container.labels.get(LABEL_SPEC, "")

    @property
    def restart_count(self) -> int:
        return int(self.container.attrs.get("RestartCount") or 0)

    @property
    def exit_code(self) -> int:
        return int((self.container.attrs.get("State") or {}).get("ExitCode") or 0)

    def host_port(self) -> int | None:
        ports = self.container.attrs.get("NetworkSettings", {}).get("Ports") or {}
        bindings = ports.get(f"{CONTAINER_PORT}/tcp") or []
        for binding in bindings:
            if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
                return int(binding["HostPort"])
        return None


class BuildFailed(UserError):
    code = "build_failed"


class BuildTimedOut(UserError):
    code = "build_timeout"


class DockerEngine:
    """Docker Engine for one paas installation (``home``)."""

    def __init__(self, home: str, base_url: str | None = None,
                 cli: str = DEFAULT_DOCKER_CLI) -> None:
        self.home = home
        self.base_url = base_url
        self.cli = cli
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                if self.base_url:
                    self._client = docker.DockerClient(base_url=self.base_url)
                else:
                    self._client = docker.from_env()
            except docker.errors.DockerException as error:
                raise PlatformError(f"Docker is not reachable: {error}",
                                    code="docker_down") from error
        return self._client

    # --- images ------------------------------------------------------------------------------

    def build_image(
        self,
        context_dir: Path,
        tag: str,
        log: Callable[[str], None],
        timeout: float,
        dockerfile: Path | None = None,
        secrets: dict[str, Path] | None = None,
        build_args: dict[str, str] | None = None,
    ) -> str:
        """Build ``context_dir`` with BuildKit, tag it ``tag`` and return the image id.

        Each output line goes to ``log`` as it comes. ``secrets`` (id -> file) are offered to
        ``RUN --mount=type=secret`` steps and never stored in the image.
        Raises BuildFailed (with the tail of the output) or BuildTimedOut.
        """
        argv = [self.cli, "build", "--progress=plain", "--tag", tag]
        if dockerfile is not None:
            argv += ["--file", str(dockerfile)]
        for secret_id, path in (secrets or {}).items():
            argv += ["--secret", f"id={secret_id},src={path}"]
        for key, value in (build_args or {}).items():
            argv += ["--build-arg", f"{key}={value}"]
        argv += ["--", str(context_dir)]
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        if self.base_url:
            env["DOCKER_HOST"] = self.base_url
        tail: list[str] = []
        returncode = self._stream_process(argv, env, log, timeout, tail)
        if returncode is None:
            raise BuildTimedOut(f"build timed out after {int(timeout)} seconds and was stopped")
        if returncode != 0:
            reason = next((line for line in reversed(tail) if line.strip()), "docker build failed")
            raise BuildFailed(f"image build failed: {reason}")
        return self.client.images.get(tag).id

    @staticmethod
    def _stream_process(
        argv: Sequence[str],
        env: dict[str, str],
        log: Callable[[str], None],
        timeout: float,
        tail: list[str],
    ) -> int | None:
        """Run ``argv``, sending each output line to ``log``; None if it ran past ``timeout``."""
        deadline = time.monotonic() + timeout
        process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        buffer = b""
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    return None
                if not selector.select(timeout=min(remaining, 1.0)):
                    continue
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    tail.append(line)
                    del tail[:-20]
                    log(line)
            if buffer:
                log(buffer.decode("utf-8", "replace"))
            return process.wait()
        finally:
            selector.close()
            process.stdout.close()

    def image_id(self, ref: str) -> str | None:
        """The id of image ``ref``, or None if it does not exist."""
        try:
            return self.client.images.get(ref).id
        except docker.errors.ImageNotFound:
            return None

    def tag_image(self, image_id: str, repository: str, tag: str) -> None:
        self.client.images.get(image_id).tag(repository, tag)

    def remove_image(self, ref: str) -> bool:
        """Remove tag or image ``ref``; False if it is gone already or still in use."""
        try:
            self.client.images.remove(ref, noprune=False)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as error:
            logger.info("image %s not removed: %s", ref, error)
            return False
        return True

    def image_layers(self, ref: str) -> list[str]:
        return self.client.images.get(ref).attrs["RootFS"]["Layers"]

    def read_image_file(self, ref: str, path: str) -> bytes | None:
        """The content of file ``path`` in image ``ref``, or None if it has no such file.

        Uses a created, never started, container that is always removed.
        Raises UserError(image_missing) if the image does not exist.
        """
        try:
            container = self.client.containers.create(ref, command=["true"], entrypoint=[])
        except docker.errors.ImageNotFound as error:
            raise UserError(f"image {ref} is missing", code="image_missing") from error
        try:
            try:
                stream, _ = container.get_archive(path)
            except docker.errors.NotFound:
                return None
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                for member in archive:
                    if member.isfile():
                        handle = archive.extractfile(member)
                        return handle.read() if handle else None
            return None
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)

    def prune_build_cache(self, marker: str) -> int:
        """Remove BuildKit cache records whose description contains ``marker``; return how many.

        A step's description holds its command line, so a marker written into the commands of
        one app's build steps selects that app's records (its cache mount and its layers' cache)
        on a dockerd shared with other apps. Records that are in use are left alone.
        """
        removed = 0
        # A record may be the parent of another; a few passes take children before parents.
        for _ in range(5):
            records = self.client.api.df().get("BuildCache") or []
            ids = [r["ID"] for r in records
                   if marker in (r.get("Description") or "") and not r.get("InUse")]
            before = removed
            for record_id in ids:
                try:
                    result = self.client.api.prune_builds(filters={"id": record_id}, all=True)
                except docker.errors.APIError as error:
                    logger.info("build cache record %s not pruned: %s", record_id, error)
                    continue
                removed += len((result or {}).get("CachesDeleted") or [])
            if not ids or removed == before:
                break
        return removed

    # --- containers --------------------------------------------------------------------------

    def instances(self, app: str | None = None) -> list[RunningInstance]:
        """Containers of this installation (of ``app`` if given), running or not."""
        filters = [f"{LABEL_HOME}={self.home}"]
        if app is not None:
            filters.append(f"{LABEL_APP}={app}")
        containers = self.client.containers.list(all=True, filters={"label": filters})
        found = []
        for container in containers:
            labels = container.labels
            if LABEL_ONEOFF in labels:
                continue
            try:
                found.append(RunningInstance(
                    container=container,
                    app=labels[LABEL_APP],
                    release=int(labels[LABEL_RELEASE]),
                    process_type=labels[LABEL_PROCESS],
                    instance=int(labels[LABEL_INSTANCE]),
                ))
            except (KeyError, ValueError):
                logger.warning("container %s has malformed paas labels", container.name)
        return found

    def ensure_network(self) -> None:
        try:
            self.client.networks.get(APP_NETWORK)
        except docker.errors.NotFound:
            self.client.networks.create(APP_NETWORK, driver="bridge")

    def start(self, spec: ContainerSpec, restart_retries: int = 5) -> RunningInstance:
        """Create and start the container for ``spec`` (replacing a stopped one of that name)."""
        self.ensure_network()
        self._remove_by_name(spec.name)
        labels = {
            **spec.labels,
            LABEL_HOME: self.home,
            LABEL_APP: spec.app,
            LABEL_RELEASE: str(spec.release),
            LABEL_PROCESS: spec.process_type,
            LABEL_INSTANCE: str(spec.instance),
            LABEL_SPEC: spec.spec_hash,
        }
        env = dict(spec.env)
        kwargs: dict = {}
        if spec.publish:
            env["PORT"] = str(CONTAINER_PORT)
            kwargs["ports"] = {f"{CONTAINER_PORT}/tcp": ("127.0.0.1", None)}
        if spec.mem_limit:
            kwargs["mem_limit"] = spec.mem_limit
        if spec.nano_cpus:
            kwargs["nano_cpus"] = spec.nano_cpus
        if spec.publish:
            # Other apps' containers reach a web process by its app's name.
            kwargs["networking_config"] = {
                APP_NETWORK: self.client.api.create_endpoint_config(aliases=[spec.app])
            }
        # Passing the command as argv to a shell keeps the Procfile's shell syntax ($PORT, &&)
        # without ever building a shell string from config values: those go through env.
        command = ["/bin/sh", "-c", spec.command] if spec.command else None
        try:
            container = self.client.containers.create(
                spec.image,
                command=command,
                name=spec.name,
                environment=env,
                labels=labels,
                detach=True,
                network=APP_NETWORK,
                restart_policy={"Name": "on-failure", "MaximumRetryCount": restart_retries},
                volumes=spec.volumes or None,
                **kwargs,
            )
            container.start()
            container.reload()
        except docker.errors.ImageNotFound as error:
            raise UserError(f"image {spec.image} is missing", code="image_missing") from error
        except docker.errors.APIError as error:
            raise PlatformError(f"could not start {spec.name}: {error.explanation or error}",
                                code="container_start_failed") from error
        return RunningInstance(container, spec.app, spec.release, spec.process_type,
                               spec.instance)

    def _remove_by_name(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.client.containers.get(name).remove(force=True)

    def stop_and_remove(self, instance: RunningInstance, grace_seconds: int,
                        keep_logs_in: Path | None = None) -> None:
        """SIGTERM, wait up to ``grace_seconds``, then SIGKILL and remove.

        With ``keep_logs_in``, the container's whole log (with timestamps) is appended to
        ``<keep_logs_in>/<type>.<n>.log`` first, so logs outlive the container.
        """
        try:
            instance.container.stop(timeout=grace_seconds)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as error:
            logger.warning("stopping %s: %s", instance.container.name, error)
        if keep_logs_in is not None:
            self.save_logs(instance, keep_logs_in)
        with contextlib.suppress(docker.errors.NotFound):
            instance.container.remove(force=True)

    def save_logs(self, instance: RunningInstance, directory: Path) -> None:
        """Append the container's timestamped log to ``directory/<type>.<n>.log``."""
        try:
            data = instance.container.logs(timestamps=True)
        except docker.errors.APIError as error:
            logger.warning("could not keep the logs of %s: %s", instance.container.name, error)
            return
        if not data:
            return
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / f"{instance.label}.log").open("ab") as log_file:
            log_file.write(data if data.endswith(b"\n") else data + b"\n")

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

    def logs(self, instance: RunningInstance, follow: bool = False,
             since: float | None = None) -> Iterator[bytes]:
        """The container's log lines with Docker's RFC 3339 timestamps, optionally followed.

        Ends when the container stops (following) or the log is read; never raises for a
        container that went away.
        """
        kwargs: dict = {"timestamps": True}
        if since is not None:
            kwargs["since"] = since
        try:
            if not follow:
                yield from instance.container.logs(**kwargs).splitlines()
                return
            buffer = b""
            for chunk in instance.container.logs(stream=True, follow=True, **kwargs):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                yield from lines
            if buffer:
                yield buffer
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

    # --- one-off containers ------------------------------------------------------------------

    def run_once(self, spec: OneOffSpec, timeout: float,
                 log: Callable[[str], None] | None = None) -> OneOffResult:
        """Run ``spec`` to completion (or ``timeout``) and return its exit code and output.

        Output lines go to ``log`` as they come. The container is always removed. Raises
        UserError(image_missing) or PlatformError(container_start_failed).
        """
        self.ensure_network()
        labels = {LABEL_HOME: self.home, LABEL_APP: spec.app, LABEL_ONEOFF: spec.kind,
                  LABEL_RELEASE: str(spec.release)}
        name = f"paas.{spec.app}.{spec.kind}.{os.urandom(4).hex()}.v{spec.release}"
        kwargs: dict = {}
        if spec.mem_limit:
            kwargs["mem_limit"] = spec.mem_limit
        try:
            container = self.client.containers.create(
                spec.image, command=["/bin/sh", "-c", spec.command], name=name,
                environment=dict(spec.env), labels=labels, detach=True, network=APP_NETWORK,
                volumes=spec.volumes or None, **kwargs,
            )
        except docker.errors.ImageNotFound as error:
            raise UserError(f"image {spec.image} is missing", code="image_missing") from error
        except docker.errors.APIError as error:
            raise PlatformError(f"could not create the {spec.kind} container: "
                                f"{error.explanation or error}",
                                code="container_start_failed") from error
        output: list[str] = []
        try:
            try:
                container.start()
            except docker.errors.APIError as error:
                raise PlatformError(f"could not start the {spec.kind} container: "
                                    f"{error.explanation or error}",
                                    code="container_start_failed") from error
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

    @staticmethod
    def _collect_output(container: Container, output: list[str],
                        log: Callable[[str], None] | None) -> None:
        buffer = b""
        try:
            for chunk in container.logs(stream=True, follow=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace")
                    output.append(line + "\n")
                    if log:
                        log(line)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            pass
        if buffer:
            line = buffer.decode("utf-8", "replace")
            output.append(line)
            if log:
                log(line)
