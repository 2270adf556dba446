"""The shipped buildpacks' bin/detect and the file lists paas checks on the host agree.

bin/detect is a few `test -f` lines, so running it here is harmless; production never runs
buildpack code on the host.
"""

import subprocess
from pathlib import Path

import pytest

from paas.build.buildpacks import BUILDPACK_ORDER, builtin_buildpack

CANDIDATES = ["requirements.txt", "pyproject.toml", "setup.py", "runtime.txt",
              ".python-version", "package.json", "index.html", "Gemfile", "main.go"]


@pytest.mark.parametrize("name", BUILDPACK_ORDER)
@pytest.mark.parametrize("filename", CANDIDATES)
def test_bin_detect_matches_buildpack_json(tmp_path, name, filename):
    buildpack = builtin_buildpack(name)
    (tmp_path / filename).write_text("{}\n")
    result = subprocess.run([str(buildpack.path / "bin" / "detect"), str(tmp_path)],
                            capture_output=True, text=True)
    assert (result.returncode == 0) == buildpack.detects(tmp_path)


@pytest.mark.parametrize("name", BUILDPACK_ORDER)
def test_every_shipped_buildpack_has_the_contract_and_phases(name):
    buildpack = builtin_buildpack(name)
    for script in ("detect", "compile", "release"):
        path = buildpack.path / "bin" / script
        assert path.is_file() and path.stat().st_mode & 0o111, path
    assert buildpack.phases


def test_the_static_release_names_its_server():
    release = builtin_buildpack("static").path / "bin" / "release"
    out = subprocess.run([str(release), str(Path("/nonexistent"))], capture_output=True,
                         text=True, check=True).stdout
    assert "web: python3 /app/.paas/static/server.py" in out
