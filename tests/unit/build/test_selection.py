"""BUILDPACK_URL and .buildpacks: what they may name, and what they may not."""

import subprocess
from pathlib import Path

import pytest

from paas.build.buildpacks import MAX_BUILDPACKS, read_selection, resolve_selection
from paas.errors import UserError


def test_buildpack_url_wins_over_the_buildpacks_file(tmp_path):
    (tmp_path / ".buildpacks").write_text("nodejs\n")
    assert read_selection(tmp_path, {"BUILDPACK_URL": " python "}) == ["python"]
    assert read_selection(tmp_path, {}) == ["nodejs"]


def test_the_buildpacks_file_tolerates_comments_and_blank_lines(tmp_path):
    (tmp_path / ".buildpacks").write_text("# chosen by hand\n\nhttps://example.com/bp.git\n")
    assert read_selection(tmp_path, {}) == ["https://example.com/bp.git"]


def test_no_choice_means_detection(tmp_path):
    assert read_selection(tmp_path, {}) == []
    (tmp_path / ".buildpacks").write_text("# nothing\n")
    assert read_selection(tmp_path, {"BUILDPACK_URL": ""}) == []


def test_the_buildpacks_file_may_list_several_in_order(tmp_path):
    (tmp_path / ".buildpacks").write_text("nodejs\n# then\npython\n")
    assert read_selection(tmp_path, {}) == ["nodejs", "python"]


def test_it_rejects_more_buildpacks_than_the_limit(tmp_path):
    (tmp_path / ".buildpacks").write_text("python\n" * (MAX_BUILDPACKS + 1))
    with pytest.raises(UserError) as raised:
        read_selection(tmp_path, {})
    assert raised.value.code == "invalid_buildpacks_file"


@pytest.mark.parametrize(("selection", "name"), [
    ("python", "python"), ("heroku/nodejs", "nodejs"), ("paas/static", "static")])
def test_it_resolves_shipped_names(tmp_path, selection, name):
    buildpack = resolve_selection(selection, tmp_path, None)
    assert buildpack.name == name and buildpack.phases


def make_buildpack(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    for script in ("detect", "compile", "release"):
        (path / "bin" / script).write_text("#!/bin/sh\nexit 0\n")
    return path


def test_it_accepts_a_local_buildpack_under_the_operators_directory(tmp_path):
    root = tmp_path / "buildpacks"
    make_buildpack(root / "custom")
    buildpack = resolve_selection(str(root / "custom"), tmp_path, root)
    assert buildpack.name == "custom"
    assert not buildpack.phases  # third-party: compile runs once


@pytest.mark.parametrize("selection", ["/etc", "/tmp/../etc"])
def test_it_refuses_local_paths_outside_the_operators_directory(tmp_path, selection):
    with pytest.raises(UserError) as raised:
        resolve_selection(selection, tmp_path, tmp_path / "buildpacks")
    assert raised.value.code == "unknown_buildpack"


def test_it_refuses_a_symlink_out_of_the_operators_directory(tmp_path):
    root = tmp_path / "buildpacks"
    root.mkdir()
    make_buildpack(tmp_path / "elsewhere")
    (root / "sneaky").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UserError):
        resolve_selection(str(root / "sneaky"), tmp_path, root)


@pytest.mark.parametrize("selection", [
    "ext::sh -c touch% /tmp/pwned", "--upload-pack=touch /tmp/pwned", "file:///etc",
    "git@github.com:x/y.git", "ruby", "https://example.com/bp.git#--evil"])
def test_it_refuses_anything_else(tmp_path, selection):
    with pytest.raises(UserError) as raised:
        resolve_selection(selection, tmp_path, None)
    assert raised.value.code == "unknown_buildpack"


def test_it_rejects_a_buildpack_without_compile(tmp_path):
    root = tmp_path / "buildpacks"
    (root / "empty" / "bin").mkdir(parents=True)
    with pytest.raises(UserError) as raised:
        resolve_selection(str(root / "empty"), tmp_path, root)
    assert raised.value.code == "invalid_buildpack"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
                   cwd=cwd, check=True, capture_output=True)


def test_it_clones_a_git_buildpack_at_a_ref(tmp_path, monkeypatch):
    origin = make_buildpack(tmp_path / "origin")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "bp")
    git(origin, "tag", "v1")
    # The clone itself is the real git CLI; only the URL form is adapted to a local origin.
    monkeypatch.setattr("paas.build.buildpacks.GIT_URL_RE",
                        __import__("re").compile(r"^file://[^#]+(#[\w.-]+)?$"))
    work = tmp_path / "work"
    work.mkdir()
    buildpack = resolve_selection(f"file://{origin}#v1", work, None, allowed_git_protocols="file")
    assert buildpack.name == "origin"
    assert (buildpack.path / "bin" / "compile").is_file()
    assert buildpack.path.is_relative_to(work)


def test_a_failed_clone_names_the_url(tmp_path, monkeypatch):
    monkeypatch.setattr("paas.build.buildpacks.GIT_URL_RE",
                        __import__("re").compile(r"^file://[^#]+$"))
    with pytest.raises(UserError) as raised:
        resolve_selection(f"file://{tmp_path}/missing", tmp_path, None,
                          allowed_git_protocols="file")
    assert raised.value.code == "buildpack_fetch_failed"
    assert "missing" in str(raised.value)
