"""Limits and cleanup of buildpack builds, against the real dockerd.

A build past its timeout is stopped, its step's processes with it, with a message that says so;
a failed build leaves no container, image or dangling intermediate image behind. Everything a
buildpack build makes is labelled ``paas.build.app=<app>`` from its first instruction on, which is
what these tests look for (the dockerd is shared, so only this test's app is counted).
"""

import random
import subprocess
import time
from pathlib import Path

import pytest

from paas.build.builders import BuildJob
from paas.build.buildpack_runner import BUILD_APP_LABEL, cache_marker, run_buildpack
from paas.build.buildpacks import Buildpack
from paas.runtime.docker_engine import BuildTimedOut, DockerEngine
from tests.e2e.stack import commit_all, git, unique_app_name

STACK_IMAGE = "paas/stack:bookworm"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def docker_lines(*argv: str) -> list[str]:
    result = subprocess.run(["docker", *argv], capture_output=True, text=True, check=True)
    return result.stdout.split()


def leftovers(app: str) -> dict[str, list[str]]:
    """Containers and images that a build of ``app`` made, by label and by repository."""
    label = f"label={BUILD_APP_LABEL}={app}"
    return {
        "containers": docker_lines("ps", "-aq", "--filter", label),
        "app containers": docker_lines("ps", "-aq", "--filter", f"label=paas.app={app}"),
        "images": docker_lines("images", "-aq", "--filter", label),
        "dangling images": docker_lines("images", "-aq", "--filter", "dangling=true",
                                        "--filter", label),
        "tags": docker_lines("images", "-q", f"paas/{app}"),
    }


NOTHING_LEFT = {"containers": [], "app containers": [], "images": [], "dangling images": [],
                "tags": []}


def processes_running(argv: str) -> list[int]:
    """Host pids whose command line is exactly ``argv`` (build steps run in the host's view)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # the process ended while we looked
        if text == argv:
            pids.append(int(cmdline.parent.name))
    return pids


def write_buildpack(path: Path, compile_script: str, phases: bool = False) -> Buildpack:
    (path / "bin").mkdir(parents=True)
    scripts = {
        "detect": "#!/bin/sh\necho Limits\n",
        "compile": compile_script,
        "release": "#!/bin/sh\nprintf -- '---\\ndefault_process_types: {}\\n'\n",
    }
    for name, text in scripts.items():
        (path / "bin" / name).write_text(text)
        (path / "bin" / name).chmod(0o755)
    if phases:
        (path / "buildpack.json").write_text(
            '{"phases": true, "dependency_files": ["deps.txt"]}\n')
    return Buildpack.load(path)


@pytest.fixture
def engine(tmp_path):
    return DockerEngine(home=str(tmp_path))


def test_a_build_past_the_timeout_is_stopped_with_its_step_and_a_clear_message(tmp_path, engine):
    app = unique_app_name("timeout")
    # A sleep no other process on this host runs, so the test can watch for it.
    sleeper = f"sleep {random.randint(700_000, 799_999)}"
    buildpack = write_buildpack(
        tmp_path / "sleeper",
        f'#!/bin/sh\necho "-----> sleeping past the timeout"\nexec {sleeper}\n')
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.txt").write_text("nothing to build\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    lines: list[str] = []
    cache_id = f"paas-{app}-0"
    job = BuildJob(app=app, source_dir=source, tag=f"paas/{app}:build-1", engine=engine,
                   log=lines.append, timeout=20, ca_bundle=CA_BUNDLE, stack_image=STACK_IMAGE,
                   cache_id=cache_id, scratch_dir=scratch)
    try:
        with pytest.raises(BuildTimedOut) as raised:
            run_buildpack(job, buildpack)
        assert str(raised.value) == (
            "the sleeper buildpack ran past the build timeout (PAAS_BUILD_TIMEOUT, 20 seconds) "
            "while running the buildpack and was stopped")
        assert raised.value.code == "build_timeout"
        assert "-----> sleeping past the timeout" in lines  # it was stopped mid-step

        # Stopping the build client makes BuildKit cancel the step: its process goes away.
        for _ in range(60):
            if not processes_running(sleeper):
                break
            time.sleep(0.5)
        assert processes_running(sleeper) == []
        assert leftovers(app) == NOTHING_LEFT
        assert list(scratch.iterdir()) == []  # the build context was removed
    finally:
        engine.prune_build_cache(cache_marker(cache_id))


def test_a_failed_build_leaves_no_container_or_image_behind(stack, tmp_path):
    """Through the stack: the dependency step succeeds, the app step fails."""
    name = unique_app_name("failer")
    write_buildpack(
        stack.home / "buildpacks" / name,
        '#!/bin/sh\nif [ "$PAAS_BUILD_PHASE" = dependencies ]; then\n'
        '  echo "-----> dependencies fine"; mkdir -p "$1/deps"; exit 0\nfi\n'
        'echo "-----> failing on purpose"\nexit 3\n',
        phases=True)
    repo = tmp_path / "failer-app"
    repo.mkdir()
    (repo / "deps.txt").write_text("one\n")
    (repo / ".buildpacks").write_text(f"{stack.home / 'buildpacks' / name}\n")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "an app whose build fails")
    app = unique_app_name("failer")
    assert leftovers(app) == NOTHING_LEFT

    result = stack.push(repo, app)
    assert result.returncode != 0
    assert "remote: -----> dependencies fine" in result.stderr
    assert "remote: -----> failing on purpose" in result.stderr
    assert f"the {name} buildpack failed while building the app (exit status 3)" \
        in result.stderr
    assert stack.server_ref(app) is None
    assert leftovers(app) == NOTHING_LEFT
