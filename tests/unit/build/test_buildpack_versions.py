"""Version requests against what the stack has: the buildpacks' own checks, run in the stack.

These start a throwaway container of the stack image (no network needed); skipped without Docker.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from paas.build.buildpacks import builtin_buildpack

STACK = "paas/stack:bookworm"

pytestmark = pytest.mark.skipif(
    shutil.which("docker") is None or subprocess.run(
        ["docker", "image", "inspect", STACK], capture_output=True).returncode != 0,
    reason="needs Docker and the stack image")


def compile_dependencies(buildpack: str, app_dir: Path) -> subprocess.CompletedProcess:
    path = builtin_buildpack(buildpack).path
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--user", "0",
         "-v", f"{path}:/paas/buildpack:ro", "-v", f"{app_dir}:/app",
         "-e", "PAAS_BUILD_PHASE=dependencies", STACK,
         "/paas/buildpack/bin/compile", "/app", "/tmp/cache", "/tmp/env"],
        capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("filename", "content", "shown"), [
    ("runtime.txt", "python-3.12.1\n", "runtime.txt asks for Python 3.12.1"),
    (".python-version", "3.9\n", ".python-version asks for Python 3.9"),
])
def test_python_refuses_a_version_the_stack_lacks_and_names_what_it_has(
        tmp_path, filename, content, shown):
    (tmp_path / filename).write_text(content)
    result = compile_dependencies("python", tmp_path)
    assert result.returncode != 0
    assert shown in result.stderr
    assert "this stack has Python 3.11 only (available: 3.11)" in result.stderr


def test_python_accepts_the_stacks_minor_version_with_any_patch(tmp_path):
    (tmp_path / ".python-version").write_text("# pinned\n3.11.9\n")
    result = compile_dependencies("python", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-----> Using Python 3.11." in result.stdout
    assert "(.python-version asks for 3.11.9)" in result.stdout


def test_python_rejects_a_version_that_is_not_one(tmp_path):
    (tmp_path / "runtime.txt").write_text("python-latest\n")
    result = compile_dependencies("python", tmp_path)
    assert result.returncode != 0
    assert "runtime.txt asks for Python 'latest', which is not a version" in result.stderr


def write_package(app_dir: Path, engines: dict) -> None:
    (app_dir / "package.json").write_text(json.dumps(
        {"name": "t", "version": "1.0.0", "engines": engines, "dependencies": {}}))


def test_nodejs_refuses_an_engines_range_the_stack_cannot_satisfy(tmp_path):
    write_package(tmp_path, {"node": "20.x"})
    result = compile_dependencies("nodejs", tmp_path)
    assert result.returncode != 0
    assert "package.json engines.node asks for '20.x', but this stack has Node.js v18." \
        in result.stderr


def test_nodejs_accepts_a_range_the_stack_satisfies(tmp_path):
    write_package(tmp_path, {"node": ">=16 <19"})
    result = compile_dependencies("nodejs", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-----> Using Node.js v18." in result.stdout


def test_the_python_buildpack_pins_uv_by_hash_at_its_uv_version():
    from pathlib import Path
    pack = Path(__file__).resolve().parents[3] / "buildpacks" / "python"
    compile_script = (pack / "bin" / "compile").read_text()
    pins = (pack / "lib" / "uv-requirements.txt").read_text()
    version = next(line.split("=", 1)[1] for line in compile_script.splitlines()
                   if line.startswith("UV_VERSION="))
    assert f"uv=={version} " in pins
    assert pins.count("--hash=sha256:") >= 2
    assert "--require-hashes" in compile_script
    assert "$cache_dir/uv-" not in compile_script  # uv is never run from the cache mount
