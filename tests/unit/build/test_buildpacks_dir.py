"""PAAS_BUILDPACKS_DIR: parsed in settings, carried by BuildJob, never read below paas/build."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paas.build.builders import SelectedBuildpackBuilder
from paas.build.job import BuildJob
from paas.errors import UserError

PROJECT_DIR = Path(__file__).resolve().parents[3]
BUILD_PACKAGE = PROJECT_DIR / "paas" / "build"


class FakeEngine:
    """The two engine calls the buildpack runner makes, answered without Docker."""

    def __init__(self) -> None:
        self.built: list[Path] = []

    def build_image(self, context_dir, tag, log, timeout, dockerfile=None, secrets=None):
        self.built.append(Path(context_dir))
        assert (Path(context_dir) / "buildpack" / "bin" / "compile").is_file()
        return "sha256:fake"

    def read_image_file(self, ref, path):
        return b"---\ndefault_process_types:\n  web: ./serve\n"


def make_buildpack(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    for script in ("detect", "compile", "release"):
        (path / "bin" / script).write_text("#!/bin/sh\nexit 0\n")
    return path


def make_job(tmp_path: Path, selection: str, buildpacks_dir: Path | None) -> BuildJob:
    source = tmp_path / "src"
    source.mkdir()
    (source / ".buildpacks").write_text(selection + "\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return BuildJob(app="web", source_dir=source, tag="paas/web:build-1", engine=FakeEngine(),
                    log=lambda line: None, timeout=60, ca_bundle=Path("/ca.crt"),
                    stack_image="stack", cache_id="c", scratch_dir=scratch,
                    buildpacks_dir=buildpacks_dir)


def test_the_selected_buildpack_may_live_in_the_jobs_buildpacks_dir(tmp_path):
    operator_dir = tmp_path / "operator-buildpacks"
    make_buildpack(operator_dir / "greeter")
    job = make_job(tmp_path, str(operator_dir / "greeter"), operator_dir)
    result = SelectedBuildpackBuilder().build(job)
    assert result.default_process_types == {"web": "./serve"}
    assert job.engine.built  # the runner got as far as building


def test_without_a_buildpacks_dir_no_host_path_is_accepted(tmp_path):
    operator_dir = tmp_path / "operator-buildpacks"
    make_buildpack(operator_dir / "greeter")
    job = make_job(tmp_path, str(operator_dir / "greeter"), None)
    with pytest.raises(UserError) as raised:
        SelectedBuildpackBuilder().build(job)
    assert raised.value.code == "unknown_buildpack"
    assert not job.engine.built


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", sorted(BUILD_PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_nothing_under_paas_build_reads_settings_or_the_environment(path):
    modules = imported_modules(path)
    assert not modules & {"django.conf", "paas.settings"}
    assert "os.environ.get(" not in path.read_text(encoding="utf-8")
    assert "os.getenv(" not in path.read_text(encoding="utf-8")


def settings_value(name: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("PAAS_", "DJANGO_"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", f"import paas.settings as s; print(s.{name})"],
        cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=60)


def test_the_buildpacks_dir_defaults_to_paas_home_buildpacks(tmp_path):
    result = settings_value("PAAS_BUILDPACKS_DIR", PAAS_HOME=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path.resolve() / "buildpacks")


def test_the_buildpacks_dir_can_be_set_and_must_not_be_empty(tmp_path):
    chosen = tmp_path / "vetted"
    result = settings_value("PAAS_BUILDPACKS_DIR", PAAS_HOME=str(tmp_path),
                            PAAS_BUILDPACKS_DIR=str(chosen))
    assert result.stdout.strip() == str(chosen.resolve())
    result = settings_value("PAAS_BUILDPACKS_DIR", PAAS_HOME=str(tmp_path),
                            PAAS_BUILDPACKS_DIR="")
    assert result.returncode != 0
    assert "PAAS_BUILDPACKS_DIR must not be empty" in result.stderr
