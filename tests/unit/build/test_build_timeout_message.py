"""A build past its timeout: the message names the limit (and the buildpack and step)."""

from pathlib import Path

import pytest

from paas.build.builders import DockerfileBuilder
from paas.build.buildpack_runner import BUILD_APP_LABEL, render_dockerfile, run_buildpack
from paas.build.buildpacks import builtin_buildpack
from paas.build.job import BuildJob
from paas.runtime.docker_engine import BuildTimedOut
from tests.unit.build.test_build_output import RUN_APP, RUN_DEPS


class TimingOutEngine:
    """Prints BuildKit's lines up to a running step, then times out as DockerEngine does."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def build_image(self, context_dir, tag, log, timeout, dockerfile=None, secrets=None):
        for line in self.lines:
            log(line)
        raise BuildTimedOut(f"build timed out after {int(timeout)} seconds and was stopped")

    def read_image_file(self, ref, path):
        raise AssertionError("a build that timed out has no image to read")


def make_job(tmp_path: Path, engine: TimingOutEngine) -> BuildJob:
    source = tmp_path / "src"
    source.mkdir()
    (source / "requirements.txt").write_text("flask\n")
    return BuildJob(app="web", source_dir=source, tag="paas/web:build-1", engine=engine,
                    log=lambda line: None, timeout=900, ca_bundle=Path("/ca.crt"),
                    stack_image="stack", cache_id="c", scratch_dir=tmp_path)


@pytest.mark.parametrize(("lines", "step"), [
    ([RUN_DEPS, "#7 0.5 -----> Installing requirements with pip"], "installing dependencies"),
    ([RUN_DEPS, "#7 CACHED", RUN_APP, "#8 0.3 -----> collectstatic"], "building the app"),
    (["#1 [internal] load build definition from Dockerfile"], "building the image"),
])
def test_the_timeout_message_names_the_limit_the_buildpack_and_the_step(tmp_path, lines, step):
    job = make_job(tmp_path, TimingOutEngine(lines))
    with pytest.raises(BuildTimedOut) as raised:
        run_buildpack(job, builtin_buildpack("python"))
    assert str(raised.value) == (
        "the python buildpack ran past the build timeout (PAAS_BUILD_TIMEOUT, 900 seconds) "
        f"while {step} and was stopped")
    assert raised.value.code == "build_timeout"
    assert [path.name for path in tmp_path.iterdir()] == ["src"]  # the context is gone


def test_every_build_is_labelled_with_its_app_from_the_first_instruction():
    dockerfile = render_dockerfile("paas/stack:bookworm", "c", [builtin_buildpack("python")],
                                   run_detect=False, app="web")
    assert dockerfile.splitlines()[:2] == ["FROM paas/stack:bookworm",
                                           f'LABEL {BUILD_APP_LABEL}="web"']


def test_a_dockerfile_build_past_the_timeout_names_the_limit_too(tmp_path):
    job = make_job(tmp_path, TimingOutEngine([]))
    (job.source_dir / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(BuildTimedOut) as raised:
        DockerfileBuilder().build(job)
    assert str(raised.value) == ("the Dockerfile build ran past the build timeout "
                                 "(PAAS_BUILD_TIMEOUT, 900 seconds) and was stopped")
