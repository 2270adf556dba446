"""Which builder a pushed tree gets: Dockerfile, explicit choice, then python, nodejs, static."""

from pathlib import Path

import pytest

from paas.build.builders import detect_builder
from paas.errors import UserError


def tree(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / name).write_text("x\n")
    return tmp_path


@pytest.mark.parametrize(("files", "expected"), [
    (["requirements.txt"], "python"),
    (["pyproject.toml"], "python"),
    (["runtime.txt"], "python"),
    ([".python-version"], "python"),
    (["package.json"], "nodejs"),
    (["index.html"], "static"),
    (["requirements.txt", "package.json", "index.html"], "python"),
    (["package.json", "index.html"], "nodejs"),
    (["Dockerfile", "requirements.txt", "package.json"], "dockerfile"),
])
def test_it_picks_the_first_builder_in_the_documented_order(tmp_path, files, expected):
    assert detect_builder(tree(tmp_path, *files), {}).name == expected


def test_an_explicit_buildpack_beats_detection_but_not_a_dockerfile(tmp_path):
    tree(tmp_path, "requirements.txt")
    assert detect_builder(tmp_path, {"BUILDPACK_URL": "static"}).name == "buildpack"
    (tmp_path / ".buildpacks").write_text("nodejs\n")
    assert detect_builder(tmp_path, {}).name == "buildpack"
    tree(tmp_path, "Dockerfile")
    assert detect_builder(tmp_path, {"BUILDPACK_URL": "static"}).name == "dockerfile"


def test_it_says_what_it_looked_for_when_nothing_matches(tmp_path):
    tree(tmp_path, "README.md")
    with pytest.raises(UserError) as raised:
        detect_builder(tmp_path, {})
    assert raised.value.code == "no_builder"
    message = str(raised.value)
    for expected in ("a Dockerfile", "BUILDPACK_URL", "requirements.txt", "package.json",
                     "index.html"):
        assert expected in message
    assert message.index("python") < message.index("nodejs") < message.index("static")


def test_files_in_subdirectories_do_not_count(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("x")
    with pytest.raises(UserError):
        detect_builder(tmp_path, {})
