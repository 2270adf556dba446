"""Pushing images to the registry every node of a swarm pulls from.

Part of the one Docker wrapper (``paas.runtime.docker_engine.DockerEngine``). A single host
needs no registry: with none configured (``registry`` None) nothing here pushes. With one, an
image ``paas/<app>:<tag>`` is also tagged ``<registry>/paas/<app>:<tag>`` and pushed; the
registry already holds every layer but the ones a build changed, so a code-only redeploy
uploads one layer, and the log says which were pushed and which the registry had.
"""

import logging
from collections.abc import Callable, Iterable
from typing import Any

import docker.errors
import requests.exceptions

from paas.errors import PlatformError
from paas.runtime.docker_client import DockerConnection

logger = logging.getLogger(__name__)

# A layer's last status in a push's progress stream, in the registry's words, and in ours.
LAYER_OUTCOMES = {"Pushed": "pushed", "Layer already exists": "already in the registry"}
MOUNTED_PREFIX = "Mounted from "  # the registry copied it from another repository of its own


def registry_reference(registry: str, image: str) -> str:
    """``image`` (``paas/<app>:<tag>``) as the registry names it: ``<registry>/paas/...``."""
    return f"{registry}/{image}"


def layer_outcomes(progress: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Each layer's outcome (pushed, already in the registry, mounted) from a push's decoded
    progress stream. Raises PlatformError(registry_push_failed) for an error in it."""
    outcomes: dict[str, str] = {}
    for event in progress:
        if event.get("error"):
            raise PlatformError(f"pushing to the registry failed: {event['error']}",
                                code="registry_push_failed")
        status, layer = str(event.get("status") or ""), event.get("id")
        if not layer:
            continue
        if status in LAYER_OUTCOMES:
            outcomes[layer] = LAYER_OUTCOMES[status]
        elif status.startswith(MOUNTED_PREFIX):
            outcomes[layer] = "already in the registry"
    return outcomes


class DockerRegistry(DockerConnection):
    """The registry this installation pushes to (``self.registry``), if any."""

    def pull_reference(self, image: str) -> str:
        """What a node pulls for ``image``: its registry reference, or ``image`` itself when
        there is no registry (one host, the image is local)."""
        return registry_reference(self.registry, image) if self.registry else image

    def push_image(self, image: str, log: Callable[[str], None] | None = None) -> None:
        """Tag ``image`` (``repository:tag``) with the registry's name and push it, logging
        per layer whether it was pushed or already there. Nothing without a registry.

        Raises PlatformError(registry_push_failed) if the registry refuses or is down.
        """
        if not self.registry:
            return
        say = log or logger.info
        repository, _, tag = self.pull_reference(image).rpartition(":")
        try:
            self.client.images.get(image).tag(repository, tag)
            say(f"-----> Pushing {repository}:{tag}")
            progress = self.client.images.push(repository, tag, stream=True, decode=True)
            outcomes = layer_outcomes(progress)
        except (docker.errors.APIError, requests.exceptions.RequestException) as error:
            raise PlatformError(f"pushing {repository}:{tag} to the registry failed: {error}",
                                code="registry_push_failed") from error
        for layer, outcome in outcomes.items():
            say(f"       layer {layer}: {outcome}")
        pushed = sum(1 for outcome in outcomes.values() if outcome == "pushed")
        say(f"-----> Pushed {pushed} of {len(outcomes)} layers "
            f"({len(outcomes) - pushed} already in the registry)")
