"""Running a buildpack inside the stack image, as a BuildKit build with layers that get reused.

The generated Dockerfile is, for a buildpack with phases (all shipped ones)::

    FROM paas/stack:bookworm                  <- the stack layers, shared by every app
    RUN <buildstep.sh dependencies>           <- the dependency layer: sees only the manifests
    RUN <buildstep.sh app>                    <- the app layer: the tree, compiled
    ENTRYPOINT ["/usr/local/bin/paas-launch"]

Each RUN bind-mounts what it needs from a build context that paas prepares in the job's scratch
directory (never the user's tree), so the buildpack, the step script, config vars and the source
are in no layer they were not copied into. BuildKit keys the dependency RUN on the manifests'
content only: a code-only push re-runs the app step alone, and the dependency layer keeps its
digest. pip and npm download caches live in a BuildKit cache mount named after ``job.cache_id``,
which survives across builds but is never part of the image. The CA bundle comes in as a secret.

A buildpack without phases (a third-party one) runs ``compile`` once, in the app step.

Several buildpacks (a multi-line ``.buildpacks``) run in their order: first the dependency step
of each phased one, then the app (or single) step of each, so that the dependency layers still
depend on manifests only. Each app step compiles the tree the previous one left; the last one's
``bin/release`` decides the default process types, as on Heroku.
"""

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from paas.build.build_ca import MOUNT_FLAG, SECRET_ID, ca_env_assignments
from paas.build.buildpacks import Buildpack
from paas.build.job import BuildJob, BuildResult
from paas.errors import PlatformError, UserError
from paas.names import PROCESS_TYPE_RE
from paas.runtime.docker_engine import BuildFailed, BuildTimedOut

STEP_SCRIPT = Path(__file__).with_name("buildstep.sh")
RELEASE_FILE = "/app/.paas/release.out"
LAUNCHER = "/usr/local/bin/paas-launch"
BUILD_UID = 1000  # the stack's `app` user; builds and apps run as it, never as root
CACHE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
CONFIG_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Top-level names of the pushed tree that the build owns: a committed node_modules or .paas would
# otherwise overwrite the dependency layer's.
EXCLUDED_FROM_SOURCE = {".git", ".paas", "node_modules"}
CACHE_MARKER_VAR = "PAAS_CACHE_ID"
BUILD_APP_LABEL = "paas.build.app"

STEP_LABELS = {"dependencies": "installing dependencies", "app": "building the app",
               "all": "running the buildpack"}


def cache_marker(cache_id: str) -> str:
    """The text that every build step of this cache carries in its command line.

    BuildKit records a step's command in its cache record's description, which is how
    ``paas.core.buildcache`` finds (and purges) one app's cache records on a shared dockerd.
    """
    return f"{CACHE_MARKER_VAR}={cache_id} "


def render_dockerfile(stack_image: str, cache_id: str, buildpacks: Sequence[Buildpack],
                      run_detect: bool, app: str | None = None) -> str:
    """The Dockerfile that runs ``buildpacks``, in order, on the stack image.

    Raises PlatformError on an unusable cache id.
    """
    if not CACHE_ID_RE.fullmatch(cache_id):
        raise PlatformError(f"invalid build cache id {cache_id!r}", code="invalid_cache_id")
    lines = [f"FROM {stack_image}"]
    if app:
        # First, so that anything a build could leave behind (an intermediate image or
        # container, were it ever built without BuildKit) is findable by the app it was for.
        # A label is image config, not a layer, and no RUN step's cache key depends on it.
        lines.append(f"LABEL {BUILD_APP_LABEL}={json.dumps(app)}")
    lines += [
        # No WORKDIR: the stack sets /app already, and BuildKit would add an empty layer for it.
        # The build steps run as the stack's unprivileged user, and so does the app: this is
        # the image's final USER (no later line changes it), so its containers never run as
        # root (tests/security/test_confinement_builds.py, tests/e2e/test_isolation.py).
        "USER app",
    ]
    for index, buildpack in enumerate(buildpacks):
        if buildpack.phases:
            lines.append(_run_step("dependencies", index, cache_id, run_detect=False))
    for index, buildpack in enumerate(buildpacks):
        lines.append(_run_step("app" if buildpack.phases else "all", index, cache_id, run_detect))
    names = ",".join(buildpack.name for buildpack in buildpacks)
    lines += [
        f'ENTRYPOINT ["{LAUNCHER}"]',
        'CMD ["/bin/bash"]',
        f"LABEL paas.buildpack={json.dumps(names)}",
    ]
    return "\n".join(lines) + "\n"


def _context_name(kind: str, index: int) -> str:
    """``buildpack``/``manifests`` for the first buildpack (as before several were possible, so
    existing apps keep their cached dependency steps), ``buildpack-1``, ... for the others."""
    return kind if index == 0 else f"{kind}-{index}"


def _run_step(step: str, index: int, cache_id: str, run_detect: bool) -> str:
    if step == "dependencies":
        input_mount = f"source={_context_name('manifests', index)},target=/paas/manifests"
    else:
        input_mount = "source=src,target=/paas/src"
    mounts = [
        "--mount=type=bind,source=buildstep.sh,target=/paas/buildstep.sh",
        f"--mount=type=bind,source={_context_name('buildpack', index)},target=/paas/buildpack",
        f"--mount=type=bind,{input_mount}",
        "--mount=type=bind,source=env,target=/paas/env",
        f"--mount=type=cache,id={cache_id},target=/paas/cache,uid={BUILD_UID},gid={BUILD_UID}",
        MOUNT_FLAG,
    ]
    argv = ["env", *ca_env_assignments(), cache_marker(cache_id).strip(),
            f"PAAS_RUN_DETECT={int(run_detect)}", "/bin/sh", "/paas/buildstep.sh", step]
    if index:
        argv.append(str(index))  # a later buildpack: it compiles what the previous ones left
    return "RUN " + " \\\n    ".join(mounts) + " \\\n    " + json.dumps(argv)


def prepare_context(job: BuildJob, buildpacks: Sequence[Buildpack], context: Path) -> None:
    """Fill ``context`` with what the build steps bind-mount (see ``buildstep.sh``)."""
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy2(STEP_SCRIPT, context / "buildstep.sh")
    for index, buildpack in enumerate(buildpacks):
        target = context / _context_name("buildpack", index)
        # symlinks=True copies a link as a link: its target is read only inside the build
        # container. The buildpack's own scripts must be plain files (a git buildpack's
        # bin/compile linked to a host file would otherwise be chmod'ed through the link).
        shutil.copytree(buildpack.path, target, symlinks=True,
                        ignore=shutil.ignore_patterns(".git"))
        for script in _buildpack_scripts(target, buildpack.name):
            os.chmod(script, 0o755, follow_symlinks=False)
        manifests = context / _context_name("manifests", index)
        manifests.mkdir()
        for name in buildpack.dependency_files:
            source = job.source_dir / name
            if source.is_file() and not source.is_symlink():
                shutil.copy2(source, manifests / name)
    shutil.copytree(job.source_dir, context / "src", symlinks=True,
                    ignore=_top_level_ignore(job.source_dir))
    _make_readable(context)
    env_dir = context / "env"
    env_dir.mkdir()
    for key, value in job.config.items():
        if CONFIG_KEY_RE.fullmatch(key):
            (env_dir / key).write_text(value, encoding="utf-8")


def _buildpack_scripts(buildpack_dir: Path, name: str) -> list[Path]:
    """The plain files in ``buildpack_dir/bin``, to be made executable.

    Raises UserError(invalid_buildpack) when ``bin`` or anything in it is a symlink: no chmod
    may follow a link out of the tree.
    """
    bin_dir = buildpack_dir / "bin"
    if bin_dir.is_symlink():
        raise UserError(f"buildpack {name}: bin/ is a symbolic link; paas runs only the "
                        "buildpack's own files", code="invalid_buildpack")
    scripts = []
    for entry in sorted(bin_dir.iterdir()):
        if entry.is_symlink():
            raise UserError(f"buildpack {name}: bin/{entry.name} is a symbolic link; paas "
                            "runs only the buildpack's own files", code="invalid_buildpack")
        if entry.is_file():
            scripts.append(entry)
    return scripts


def _make_readable(root: Path) -> None:
    """Let the build user read everything: a checkout's temp dir is 0700 and copytree keeps that."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode | (0o755 if path.is_dir() else 0o644))


def _top_level_ignore(root: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory) == root:
            return EXCLUDED_FROM_SOURCE.intersection(names)
        return set()
    return ignore


def run_buildpack(job: BuildJob, buildpack: Buildpack) -> BuildResult:
    """Build ``job`` with the detected ``buildpack``; see ``run_buildpacks``."""
    return run_buildpacks(job, [buildpack])


def run_buildpacks(job: BuildJob, buildpacks: Sequence[Buildpack],
                   explicit: bool = False) -> BuildResult:
    """Build ``job`` with ``buildpacks`` in order, in the stack image; return the image and the
    last buildpack's default process types. ``explicit``: each one's ``bin/detect`` must pass.

    Raises BuildFailed (a buildpack failed; its own output, pip's or npm's errors included,
    has gone to ``job.log``), BuildTimedOut, or UserError(invalid_release_output).
    """
    workdir = Path(tempfile.mkdtemp(prefix="buildpack-context-", dir=job.scratch_dir))
    try:
        context = workdir / "context"
        prepare_context(job, buildpacks, context)
        dockerfile = workdir / "Dockerfile"
        dockerfile.write_text(render_dockerfile(job.stack_image, job.cache_id, buildpacks,
                                                explicit, app=job.app))
        output = BuildOutput(job.log)
        try:
            image_id = job.engine.build_image(context, job.tag, output, job.timeout,
                                              dockerfile=dockerfile,
                                              secrets={SECRET_ID: job.ca_bundle})
        except BuildFailed as error:
            name = buildpacks[output.failed_buildpack].name
            step = STEP_LABELS.get(output.failed_step or "", "building the image")
            raise BuildFailed(f"the {name} buildpack failed while {step}"
                              f"{output.exit_status}; see its output above") from error
        except BuildTimedOut as error:
            name = buildpacks[output.current_buildpack].name
            step = STEP_LABELS.get(output.current_step or "", "building the image")
            raise BuildTimedOut(
                f"the {name} buildpack ran past the build timeout (PAAS_BUILD_TIMEOUT, "
                f"{int(job.timeout)} seconds) while {step} and was stopped") from error
        if output.reused_dependencies:
            job.log("-----> Dependencies unchanged: reused the dependency layer")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    release_text = job.engine.read_image_file(job.tag, RELEASE_FILE)
    return BuildResult(image_id=image_id,
                       default_process_types=parse_release_output(release_text or b""))


class BuildOutput:
    """Turns BuildKit's plain progress into the buildpack's own output for the pusher.

    The buildpack's lines (``#7 1.234 -----> Installing requirements``) are passed on without
    BuildKit's step number and timer; BuildKit's bookkeeping (context transfer, exporting) is
    dropped; errors that are not a step's exit status (a platform problem) are passed on whole.
    """

    _STEP_RE = re.compile(
        r'^#(\d+) \[[^\]]*\] RUN .*"/paas/buildstep\.sh", "(\w+)"(?:, "(\d+)")?\]')
    _OUTPUT_RE = re.compile(r"^#(\d+) \d+\.\d+ (.*)$")
    _EXIT_RE = re.compile(r"exit code: (\d+)")

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.steps: dict[str, str] = {}
        self.step_buildpacks: dict[str, int] = {}  # BuildKit step number -> buildpack index
        self.failed_step: str | None = None
        self.failed_buildpack = 0
        self.current_step: str | None = None  # the last step BuildKit started (they run in order)
        self.current_buildpack = 0
        self.exit_status = ""
        self.reused_dependencies = False
        self._in_error_summary = False

    def __call__(self, line: str) -> None:
        if line.startswith("------"):
            # BuildKit repeats the failed step's last lines between dashes; they were shown.
            self._in_error_summary = not self._in_error_summary
            return
        if self._in_error_summary:
            return
        if match := self._STEP_RE.match(line):
            self.steps[match.group(1)] = match.group(2)
            self.step_buildpacks[match.group(1)] = int(match.group(3) or 0)
            self.current_step = match.group(2)
            self.current_buildpack = int(match.group(3) or 0)
            return
        if match := self._OUTPUT_RE.match(line):
            if match.group(1) in self.steps:
                self.log(match.group(2))
            return
        if line.startswith("#"):
            number, _, rest = line[1:].partition(" ")
            step = self.steps.get(number)
            if rest == "CACHED" and step == "dependencies":
                self.reused_dependencies = True
            elif rest.startswith("ERROR"):
                if step:
                    self.failed_step = step
                    self.failed_buildpack = self.step_buildpacks[number]
                    code = self._EXIT_RE.search(rest)
                    self.exit_status = f" (exit status {code.group(1)})" if code else ""
                else:
                    self.log(rest)
            return
        if not line.strip():
            return
        if self.failed_step and line.startswith(("error:", "executor failed running")):
            return  # the step's exit status with its whole command line: the caller says it better
        self.log(line)


def parse_release_output(text: bytes) -> dict[str, str | None]:
    """``default_process_types`` from what ``bin/release`` printed: YAML, as the contract says.

    JSON is read too: it is YAML, except that PyYAML refuses the tabs JSON allows.
    Raises UserError(invalid_release_output) when the output is neither, is not a mapping, or
    its ``default_process_types`` is not a mapping of process type names (PROCESS_TYPE_RE, as
    in a Procfile) to commands.
    """
    source = text.decode("utf-8", "replace")
    try:
        release = yaml.safe_load(source)
    except yaml.YAMLError as error:
        try:
            release = json.loads(source)
        except ValueError:
            raise UserError(f"bin/release printed output that is not YAML: {_yaml_problem(error)}",
                            code="invalid_release_output") from None
    if release is None:
        return {}
    if not isinstance(release, dict):
        raise UserError(f"bin/release printed a YAML {type(release).__name__}, not a mapping",
                        code="invalid_release_output")
    process_types = release.get("default_process_types")
    if process_types is None:
        return {}
    if not isinstance(process_types, dict):
        raise UserError("bin/release: default_process_types is not a mapping",
                        code="invalid_release_output")
    for name, command in process_types.items():
        # The same names a Procfile may use: they become container names and labels.
        if not isinstance(name, str) or not PROCESS_TYPE_RE.fullmatch(name):
            raise UserError(f"bin/release: {name!r} is not a process type name (use "
                            "lowercase letters, digits, '-' and '_', starting with a letter)",
                            code="invalid_release_output")
        if not isinstance(command, str):
            raise UserError(f"bin/release: process type {name!r} needs a command, got {command!r}",
                            code="invalid_release_output")
    return dict(process_types)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's complaint on one line, for a build log."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(error)
