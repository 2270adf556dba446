"""What a build is given and what it gives back, and the interface every builder has.

The foot of ``paas.build``: the builders, the buildpack runner and the tests import these types,
and this module imports nothing else from the package.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from paas.runtime.docker_images import DockerImages


@dataclass(frozen=True)
class BuildJob:
    """Everything a builder needs to build one push."""

    app: str
    source_dir: Path
    tag: str
    engine: DockerImages  # builders only build and read images
    log: Callable[[str], None]
    timeout: float
    ca_bundle: Path
    stack_image: str
    cache_id: str  # names the app's dependency cache; changes when the cache is purged
    config: dict[str, str] = field(default_factory=dict)
    scratch_dir: Path | None = None  # a private directory for generated files
    # The operator's buildpacks (PAAS_BUILDPACKS_DIR): the only host directory that
    # BUILDPACK_URL or .buildpacks may name by path. None: no local buildpacks.
    buildpacks_dir: Path | None = None


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    # Process types the builder knows without a Procfile (a buildpack's defaults); a
    # Procfile in the tree overrides them. None as a command: the image's own CMD.
    default_process_types: dict[str, str | None]


class Builder(Protocol):
    name: str
    looks_for: str  # what detect() checks, for the message when no builder accepts a tree

    def detect(self, source_dir: Path, config: dict[str, str]) -> bool: ...

    def build(self, job: BuildJob) -> BuildResult: ...
