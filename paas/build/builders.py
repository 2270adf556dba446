"""Turning a source tree into an image: the builder interface, its registry and detection.

Detection order is fixed: a ``Dockerfile`` wins; otherwise the buildpacks in ``BUILDPACK_ORDER``
are asked in turn (see ``paas.build.buildpacks``). The first that accepts the tree builds it.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from paas.build.build_ca import SECRET_ID, add_build_ca, hide_build_ca
from paas.build.procfile import parse_procfile
from paas.errors import UserError
from paas.runtime.docker_engine import BuildFailed, BuildTimedOut, DockerEngine


@dataclass(frozen=True)
class BuildJob:
    """Everything a builder needs to build one push."""

    app: str
    source_dir: Path
    tag: str
    engine: DockerEngine
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

    def detect(self, source_dir: Path, config: dict[str, str]) -> bool: ...

    def build(self, job: BuildJob) -> BuildResult: ...


# BuildKit's plain progress prints each step's cache key on a line of its own: noise to users.
_STEP_DIGEST_LINE = re.compile(r"^#\d+ sha256:[0-9a-f]{64}$")


def user_build_output(log: Callable[[str], None]) -> Callable[[str], None]:
    """Wrap ``log`` so users see their build steps without paas's plumbing or digests."""

    def write(line: str) -> None:
        if not _STEP_DIGEST_LINE.match(line):
            log(hide_build_ca(line))

    return write


class DockerfileBuilder:
    """Builds the tree's own Dockerfile with BuildKit, giving RUN steps the build CA bundle."""

    name = "dockerfile"
    looks_for = "a Dockerfile"

    def detect(self, source_dir: Path, config: dict[str, str]) -> bool:
        return (source_dir / "Dockerfile").is_file()

    def build(self, job: BuildJob) -> BuildResult:
        original = (job.source_dir / "Dockerfile").read_text(encoding="utf-8", errors="replace")
        scratch = job.scratch_dir or job.source_dir.parent
        dockerfile = scratch / "Dockerfile.paas"
        dockerfile.write_text(add_build_ca(original))
        try:
            image_id = job.engine.build_image(
                job.source_dir, job.tag, user_build_output(job.log), job.timeout,
                dockerfile=dockerfile, secrets={SECRET_ID: job.ca_bundle},
            )
        except BuildFailed as error:
            raise BuildFailed(hide_build_ca(str(error))) from None
        except BuildTimedOut as error:
            raise BuildTimedOut(
                f"the Dockerfile build ran past the build timeout (PAAS_BUILD_TIMEOUT, "
                f"{int(job.timeout)} seconds) and was stopped") from error
        return BuildResult(image_id=image_id, default_process_types={"web": None})


def builder_registry() -> list[Builder]:
    """All builders in detection order."""
    from paas.build.buildpacks import buildpack_builders

    return [DockerfileBuilder(), *buildpack_builders()]


def detect_builder(source_dir: Path, config: dict[str, str]) -> Builder:
    """The first builder that accepts ``source_dir``. Raises UserError(no_builder)."""
    builders = builder_registry()
    for builder in builders:
        if builder.detect(source_dir, config):
            return builder
    # Builders may say what they look for (a buildpack lists its files); the name otherwise.
    looked_for = "; ".join(getattr(b, "looks_for", b.name) for b in builders)
    raise UserError(
        f"could not detect how to build this app: looked for, in order: {looked_for}; "
        "add a Dockerfile, or set BUILDPACK_URL",
        code="no_builder",
    )


def process_types_for(source_dir: Path, result: BuildResult) -> dict[str, str | None]:
    """The release's process types: the Procfile's, over the builder's defaults."""
    procfile = source_dir / "Procfile"
    process_types = dict(result.default_process_types)
    if procfile.is_file():
        process_types.update(parse_procfile(procfile.read_text(encoding="utf-8")))
    return process_types
