"""The generated build: a dependency step that sees only manifests, then an app step."""

from pathlib import Path

import pytest

from paas.build.build_ca import MOUNT_FLAG
from paas.build.buildpack_runner import prepare_context, render_dockerfile
from paas.build.buildpacks import Buildpack, builtin_buildpack
from paas.build.job import BuildJob
from paas.errors import PlatformError


def run_lines(dockerfile: str) -> list[str]:
    instructions = dockerfile.replace("\\\n", "").splitlines()
    return [line for line in instructions if line.startswith("RUN ")]


def test_a_phased_buildpack_gets_a_dependency_step_then_an_app_step():
    dockerfile = render_dockerfile("paas/stack:bookworm", "paas-web-7",
                                   [builtin_buildpack("python")], run_detect=False)
    assert dockerfile.startswith("FROM paas/stack:bookworm\nUSER app\n")
    deps, app = run_lines(dockerfile)
    assert "source=manifests,target=/paas/manifests" in deps
    assert "/paas/src" not in deps  # code changes must not touch the dependency step
    assert deps.endswith('"/paas/buildstep.sh", "dependencies"]')
    assert "source=src,target=/paas/src" in app and "manifests" not in app
    assert app.endswith('"/paas/buildstep.sh", "app"]')
    for step in (deps, app):
        assert "--mount=type=cache,id=paas-web-7,target=/paas/cache,uid=1000,gid=1000" in step
        assert MOUNT_FLAG in step
        assert '"PAAS_CACHE_ID=paas-web-7"' in step
        assert '"NODE_EXTRA_CA_CERTS=/run/paas/build-ca.crt"' in step
    assert 'ENTRYPOINT ["/usr/local/bin/paas-launch"]' in dockerfile
    assert "COPY" not in dockerfile  # everything comes in through mounts, into no extra layer


def test_a_buildpack_without_phases_runs_once_and_may_detect_first():
    dockerfile = render_dockerfile("stack", "c1", [Buildpack("custom", Path("/bp"))],
                                   run_detect=True)
    (only,) = run_lines(dockerfile)
    assert '"PAAS_RUN_DETECT=1"' in only and only.endswith('"all"]')


@pytest.mark.parametrize("cache_id", ["", "a b", "x,target=/etc", "-x", "a\nRUN evil"])
def test_it_refuses_a_cache_id_that_could_change_the_dockerfile(cache_id):
    with pytest.raises(PlatformError):
        render_dockerfile("stack", cache_id, [builtin_buildpack("python")], False)


def make_job(source: Path, config: dict[str, str]) -> BuildJob:
    return BuildJob(app="web", source_dir=source, tag="paas/web:build-1", engine=None,
                    log=print, timeout=60, ca_bundle=Path("/ca.crt"), stack_image="stack",
                    cache_id="c", config=config)


def test_the_context_holds_manifests_source_env_and_buildpack(tmp_path):
    source = tmp_path / "src"
    (source / "node_modules" / "left-pad").mkdir(parents=True)
    (source / "lib").mkdir()
    (source / "lib" / "node_modules").mkdir()
    for name in ("package.json", "package-lock.json", "server.js", "lib/util.js", ".env"):
        (source / name).write_text(name)
    context = tmp_path / "context"
    prepare_context(make_job(source, {"NODE_ENV": "staging", "bad key": "x"}),
                    [builtin_buildpack("nodejs")], context)
    assert sorted(p.name for p in (context / "manifests").iterdir()) == [
        "package-lock.json", "package.json"]
    assert (context / "src" / "server.js").is_file()
    assert (context / "src" / "lib" / "node_modules").is_dir()  # only the top level is the build's
    assert not (context / "src" / "node_modules").exists()
    assert (context / "env" / "NODE_ENV").read_text() == "staging"
    assert not (context / "env" / "bad key").exists()
    assert (context / "buildpack" / "bin" / "compile").stat().st_mode & 0o111
    assert (context / "buildstep.sh").is_file()


def test_the_build_user_can_read_a_private_checkout(tmp_path):
    source = tmp_path / "src"
    source.mkdir(mode=0o700)
    (source / "app.py").write_text("x")
    (source / "app.py").chmod(0o600)
    context = tmp_path / "context"
    prepare_context(make_job(source, {}), [builtin_buildpack("python")], context)
    assert (context / "src").stat().st_mode & 0o005 == 0o005
    assert (context / "src" / "app.py").stat().st_mode & 0o004
