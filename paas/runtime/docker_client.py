"""The connection every part of the Docker wrapper shares, and the names paas gives things.

``paas.runtime.docker_engine.DockerEngine`` is the one entry to Docker; it is assembled from
the parts in ``docker_images``, ``docker_containers`` and ``docker_oneoffs``, which all build
on ``DockerConnection`` below.
"""

import docker
import docker.errors
import requests.exceptions

from paas.errors import PlatformError

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
# A one-off's timeout in seconds: one older than that (plus a grace) has no one waiting for it.
LABEL_ONEOFF_TIMEOUT = "paas.oneoff.timeout"

# A backing service's container (and its network and volume) carries the service's name here,
# and no app labels: app listings skip it (see docker_services).
LABEL_SERVICE = "paas.service"
LABEL_SERVICE_KIND = "paas.service.kind"

CONTAINER_PORT = 5000
# The addresses the per-app networks take their /24s from (PAAS_NETWORK_POOL).
DEFAULT_NETWORK_POOL = "10.213.0.0/16"

# The Docker CLI with BuildKit built in (Debian's docker.io 20.10). The SDK only speaks the
# legacy builder, which cannot mount a file into a build step without leaving it in a layer.
DEFAULT_DOCKER_CLI = "/usr/bin/docker"


def reported(value: str | None, what: str) -> str:
    """``value``, an id or name read from dockerd. The SDK types these as optional (a model
    made from partial attributes has none); raises PlatformError(docker_down) if one is missing.
    """
    if value is None:
        raise PlatformError(f"Docker reported no {what}", code="docker_down")
    return value


class DockerConnection:
    """Docker Engine for one paas installation (``home``): the client, made on first use."""

    def __init__(self, home: str, base_url: str | None = None,
                 cli: str = DEFAULT_DOCKER_CLI, network_pool: str = DEFAULT_NETWORK_POOL,
                 build_memory: str | None = None, build_pids: int | None = None,
                 registry: str | None = None) -> None:
        self.home = home
        self.base_url = base_url
        self.cli = cli
        # Where the per-app networks take their subnets (see docker_networks).
        self.network_pool = network_pool
        # The ceilings on build steps (see build_limits), named when a build fails at one.
        self.build_memory = build_memory
        self.build_pids = build_pids
        # Where images go so that other nodes can pull them (see docker_registry); None: one
        # host, nothing is pushed.
        self.registry = registry
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        """The SDK client; raises PlatformError(docker_down) if Docker cannot be reached."""
        if self._client is None:
            try:
                if self.base_url:
                    self._client = docker.DockerClient(base_url=self.base_url)
                else:
                    self._client = docker.from_env()
            except docker.errors.DockerException as error:
                raise PlatformError(f"Docker is not reachable: {error}",
                                    code="docker_down") from error
            if self._client.api.base_url.startswith("http+docker://"):
                # A local socket: no proxy or .netrc applies, and requests would otherwise
                # read the whole environment for them on every call (a reconcile makes
                # hundreds).
                self._client.api.trust_env = False
        return self._client

    def reachable(self) -> bool:
        """Whether Docker answers now (a failed attempt is not remembered)."""
        try:
            self.client.ping()
        except (PlatformError, docker.errors.DockerException,
                requests.exceptions.RequestException):
            self._client = None
            return False
        return True
