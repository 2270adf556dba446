"""The one wrapper around Docker Engine.

Every Docker call paas makes goes through ``DockerEngine``: the docker SDK's models API for
images, containers and networks, and the docker CLI for builds (see ``build_image`` for why).
It starts and stops things; it does not decide what should run or record anything — the
callers do. Its parts live beside it, one idea each:

- ``docker_client``: the connection, the labels and names paas gives Docker objects;
- ``docker_images``: BuildKit builds and image operations;
- ``docker_containers``: app containers (one per process instance), their logs and volumes;
- ``docker_oneoffs``: one-off containers (the release phase, ``run``);
- ``docker_networks``: one network per app;
- ``docker_services``: backing services (PostgreSQL, Redis), one container and network each;
- ``docker_registry``: pushing images to the registry a swarm's nodes pull from;
- ``docker_swarm``: Swarm services, tasks, nodes and overlay networks;
- ``confinement``: the flags and limits every app container is created with.
"""

from paas.runtime.docker_containers import DockerContainers
from paas.runtime.docker_images import BuildFailed, BuildTimedOut, DockerImages
from paas.runtime.docker_networks import DockerNetworks
from paas.runtime.docker_oneoffs import DockerOneOffs
from paas.runtime.docker_services import DockerServices
from paas.runtime.docker_swarm import DockerSwarm

# The builders (paas.build) catch these where they call build_image.
__all__ = ["BuildFailed", "BuildTimedOut", "DockerEngine"]


class DockerEngine(DockerImages, DockerContainers, DockerOneOffs, DockerServices, DockerNetworks,
                   DockerSwarm):
    """Docker Engine for one paas installation (``home``)."""
