"""Several buildpacks in .buildpacks: dependency steps first, then each compile in order."""

import json
from pathlib import Path

import pytest

from paas.build.buildpack_runner import (
    BuildOutput,
    prepare_context,
    render_dockerfile,
    run_buildpacks,
)
from paas.build.buildpacks import Buildpack, builtin_buildpack
from paas.build.job import BuildJob
from paas.runtime.docker_engine import BuildFailed


def run_steps(dockerfile: str) -> list[tuple[str, list[str]]]:
    """(buildpack mount source, buildstep.sh arguments) of each RUN, in order."""
    steps = []
    for line in dockerfile.replace("\\\n", "").splitlines():
        if line.startswith("RUN "):
            source = line.split("--mount=type=bind,source=")[2].split(",")[0]
            argv = json.loads(line[line.index('["env"'):])
            steps.append((source, argv[argv.index("/paas/buildstep.sh") + 1:]))
    return steps


def test_dependency_steps_come_first_then_each_buildpacks_compile_in_order():
    third_party = Buildpack("custom", Path("/bp"))
    dockerfile = render_dockerfile("stack", "c", [builtin_buildpack("nodejs"), third_party,
                                                  builtin_buildpack("python")], run_detect=True)
    assert run_steps(dockerfile) == [
        ("buildpack", ["dependencies"]),
        ("buildpack-2", ["dependencies", "2"]),
        ("buildpack", ["app"]),
        ("buildpack-1", ["all", "1"]),
        ("buildpack-2", ["app", "2"]),
    ]
    assert 'LABEL paas.buildpack="nodejs,custom,python"' in dockerfile
    assert "source=manifests-2,target=/paas/manifests" in dockerfile


def test_one_buildpack_keeps_the_single_buildpack_layout():
    dockerfile = render_dockerfile("stack", "c", [builtin_buildpack("python")], run_detect=False)
    assert run_steps(dockerfile) == [("buildpack", ["dependencies"]), ("buildpack", ["app"])]


def test_each_buildpack_gets_its_own_directory_and_manifests(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("package.json", "requirements.txt", "app.py"):
        (source / name).write_text(name)
    job = BuildJob(app="web", source_dir=source, tag="t", engine=None, log=print, timeout=60,
                   ca_bundle=Path("/ca.crt"), stack_image="stack", cache_id="c")
    context = tmp_path / "context"
    prepare_context(job, [builtin_buildpack("nodejs"), builtin_buildpack("python")], context)
    assert [p.name for p in (context / "manifests").iterdir()] == ["package.json"]
    assert [p.name for p in (context / "manifests-1").iterdir()] == ["requirements.txt"]
    assert (context / "buildpack" / "buildpack.json").read_text().count('"nodejs"')
    assert (context / "buildpack-1" / "buildpack.json").read_text().count('"python"')


RUN_LINE = ('#{n} [{n}/6] RUN --mount=type=bind,source=buildstep.sh,target=/paas/buildstep.sh '
            '["env", "PAAS_CACHE_ID=c", "/bin/sh", "/paas/buildstep.sh", "{step}"{index}]')


class FailingEngine:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def build_image(self, context_dir, tag, log, timeout, dockerfile=None, secrets=None):
        for line in self.lines:
            log(line)
        raise BuildFailed("image build failed")


@pytest.mark.parametrize(("failing", "name"), [("", "nodejs"), (', "1"', "python")])
def test_a_failure_names_the_buildpack_whose_step_failed(tmp_path, failing, name):
    lines = [RUN_LINE.format(n=5, step="app", index=""),
             RUN_LINE.format(n=6, step="app", index=', "1"'),
             "#5 0.1 -----> node done"]
    failed_number = 6 if failing else 5
    lines.append(f"#{failed_number} ERROR: process did not complete: exit code: 2")
    source = tmp_path / "src"
    source.mkdir()
    job = BuildJob(app="web", source_dir=source, tag="t", engine=FailingEngine(lines),
                   log=lambda line: None, timeout=60, ca_bundle=Path("/ca.crt"),
                   stack_image="stack", cache_id="c", scratch_dir=tmp_path)
    with pytest.raises(BuildFailed) as raised:
        run_buildpacks(job, [builtin_buildpack("nodejs"), builtin_buildpack("python")])
    assert str(raised.value) == (f"the {name} buildpack failed while building the app "
                                 "(exit status 2); see its output above")


def test_build_output_knows_which_buildpack_is_running():
    output = BuildOutput(lambda line: None)
    output(RUN_LINE.format(n=7, step="all", index=', "3"'))
    assert (output.current_step, output.current_buildpack) == ("all", 3)
