"""Turning a source tree into an image: the builders, their registry and detection.

Detection order is fixed: a ``Dockerfile`` wins; then a buildpack chosen by ``BUILDPACK_URL`` or
``.buildpacks``; otherwise the shipped buildpacks in ``BUILDPACK_ORDER`` are asked in turn (see
``paas.build.buildpacks``). The first that accepts the tree builds it.

The top of ``paas.build``: it imports the buildpack registry and runner, nothing imports it back.
"""

import re
from collections.abc import Callable
from pathlib import Path

from paas.build.build_ca import SECRET_ID, add_build_ca, hide_build_ca
from paas.build.buildpack_runner import run_buildpack, run_buildpacks
from paas.build.buildpacks import (
    BUILDPACK_ORDER,
    SELECTION_CONFIG_KEY,
    SELECTION_FILE,
    Buildpack,
    builtin_buildpack,
    read_selection,
    redact_url,
    resolve_selection,
)
from paas.build.dockerfile_policy import check_dockerfile
from paas.build.job import Builder, BuildJob, BuildResult  # paas.core finds BuildJob here too
from paas.build.procfile import parse_procfile
from paas.errors import UserError
from paas.runtime.docker_engine import BuildFailed, BuildTimedOut

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
        """Build the tree's Dockerfile once it passes ``check_dockerfile``.

        Raises UserError (what ``check_dockerfile`` refuses), BuildFailed or BuildTimedOut.
        """
        original = (job.source_dir / "Dockerfile").read_text(encoding="utf-8", errors="replace")
        check_dockerfile(original, job.app)
        rewritten = add_build_ca(original)
        # The file BuildKit reads is the rewritten one: check what is really built as well.
        check_dockerfile(rewritten, job.app)
        scratch = job.scratch_dir or job.source_dir.parent
        dockerfile = scratch / "Dockerfile.paas"
        dockerfile.write_text(rewritten)
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


class BuildpackBuilder:
    """One shipped buildpack in the detection order."""

    def __init__(self, buildpack: Buildpack) -> None:
        self.buildpack = buildpack
        self.name = buildpack.name
        self.looks_for = f"{buildpack.name} ({', '.join(buildpack.detect_any)})"

    def detect(self, source_dir: Path, config: dict[str, str]) -> bool:
        return self.buildpack.detects(source_dir)

    def build(self, job: BuildJob) -> BuildResult:
        return run_buildpack(job, self.buildpack)


class SelectedBuildpackBuilder:
    """The buildpacks named by BUILDPACK_URL or ``.buildpacks``; asked before detection."""

    name = "buildpack"
    looks_for = f"{SELECTION_CONFIG_KEY} or a {SELECTION_FILE} file"

    def detect(self, source_dir: Path, config: dict[str, str]) -> bool:
        return bool(read_selection(source_dir, config))

    def build(self, job: BuildJob) -> BuildResult:
        """Run the chosen buildpacks in order; the last one's ``bin/release`` decides the
        default process types (Heroku's multi-buildpack rule).

        Raises what ``resolve_selection`` and ``run_buildpacks`` raise.
        """
        selections = read_selection(job.source_dir, job.config)
        assert selections  # detect() said so
        workdir = job.scratch_dir or job.source_dir.parent
        buildpacks = []
        for selection in selections:
            buildpack = resolve_selection(selection, workdir, job.buildpacks_dir)
            job.log(f"-----> Using buildpack {buildpack.name} ({redact_url(selection)})")
            buildpacks.append(buildpack)
        return run_buildpacks(job, buildpacks, explicit=True)


def builder_registry() -> list[Builder]:
    """All builders in detection order: a Dockerfile, an explicit buildpack choice, then the
    shipped buildpacks."""
    return [DockerfileBuilder(), SelectedBuildpackBuilder(),
            *(BuildpackBuilder(builtin_buildpack(name)) for name in BUILDPACK_ORDER)]


def detect_builder(source_dir: Path, config: dict[str, str]) -> Builder:
    """The first builder that accepts ``source_dir``. Raises UserError(no_builder)."""
    builders = builder_registry()
    for builder in builders:
        if builder.detect(source_dir, config):
            return builder
    looked_for = "; ".join(builder.looks_for for builder in builders)
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
