"""Release services against fakes at the Docker edge: release phase, config releases,
rollback, scale and image pruning keep the books right."""

from types import SimpleNamespace

import pytest
from django.test import override_settings

from paas.core import releases
from paas.core.formation import scale
from paas.core.models import App
from paas.errors import PlatformError, UserError
from paas.runtime.docker_containers import RunningInstance
from paas.runtime.scheduler import Retirement

pytestmark = pytest.mark.django_db

WITH_RELEASE = {"web": None, "worker": "run-worker", "release": "migrate"}


@pytest.fixture
def app(users):
    return App.objects.create(name="shop", owner=users.owner, config={"GREETING": "hi"})


def passing_oneoff(platform):
    def run_oneoff(desired, command, kind, timeout, log=None):
        platform.scheduler.commands.append(command)
        if log:
            log("migrated")
        return SimpleNamespace(exit_code=0, output="migrated\n", timed_out=False)
    platform.scheduler.run_oneoff = run_oneoff


def test_the_release_command_runs_once_before_the_first_converge(platform, app):
    passing_oneoff(platform)
    lines = []
    platform.images.add_image("sha256:one")
    release = releases.create_release(app, "sha256:one", app.config, WITH_RELEASE, "Deploy")
    releases.deploy_release(release, lines.append)

    assert platform.scheduler.commands == ["migrate"]
    assert "       migrated" in lines
    release.refresh_from_db()
    assert release.status == "current"
    assert sorted(app.formations.values_list("process_type", flat=True)) == ["web", "worker"]

    scale(app, {"worker": 2})  # converging the current release again: no release command
    assert platform.scheduler.commands == ["migrate"]


def test_a_failing_release_command_fails_the_release_and_changes_nothing(platform, app):
    passing_oneoff(platform)
    first = platform.deploy(app, "sha256:one", WITH_RELEASE)
    converged = len(platform.scheduler.converged)
    del platform.scheduler.run_oneoff  # the fake's default exits 3

    with pytest.raises(UserError) as raised:
        releases.set_config(app, {"GREETING": "new"}, [])

    assert raised.value.code == "release_phase_failed"
    assert "exit code 3" in str(raised.value)
    assert len(platform.scheduler.converged) == converged  # nothing was started
    app.refresh_from_db()
    assert app.config == {"GREETING": "hi"}
    assert app.current_release == first
    assert app.releases.get(number=2).status == "failed"


def test_scaling_keeps_the_current_release_current_even_when_it_fails(platform, app):
    release = platform.deploy(app, "sha256:one", {"web": None})

    def broken_converge(desired, log=None):
        raise UserError("health check failed", code="healthcheck_failed")

    platform.scheduler.converge = broken_converge
    with pytest.raises(UserError):
        scale(app, {"web": 2})

    release.refresh_from_db()
    assert release.status == "current"


def test_rollback_restores_code_and_config_as_a_new_release(platform, app):
    platform.deploy(app, "sha256:one")
    releases.set_config(app, {"GREETING": "changed"}, [])
    platform.deploy(app, "sha256:two")

    rolled = releases.rollback(app, 1)

    assert rolled.number == 4
    assert rolled.image_id == "sha256:one"
    assert rolled.config_snapshot == {"GREETING": "hi"}
    app.refresh_from_db()
    assert app.config == {"GREETING": "hi"}
    assert app.current_release == rolled
    assert platform.scheduler.converged[-1].image == "paas/shop:v4"


def test_rollback_is_refused_when_the_image_is_gone(platform, app):
    platform.deploy(app, "sha256:one")
    platform.deploy(app, "sha256:two")
    platform.images.images = {k: v for k, v in platform.images.images.items()
                              if v != "sha256:one"}

    with pytest.raises(UserError) as raised:
        releases.rollback(app, 1)

    assert raised.value.code == "image_missing"
    assert "cannot roll back to v1: its image was removed" in str(raised.value)
    assert app.releases.count() == 2


@override_settings(PAAS_KEEP_RELEASES=2)
def test_pruning_keeps_the_newest_releases_and_never_the_current_or_running(platform, app):
    for number in range(1, 6):
        platform.deploy(app, f"sha256:{number}")
    # v5 is current and running; keep v4 and v3 (the newest two others); v1, v2 go.
    tags = {ref for ref in platform.images.images if ref.startswith("paas/")}

    assert tags == {"paas/shop:v3", "paas/shop:v4", "paas/shop:v5"}


def converge_leaving(platform, old_instances, events):
    """The fake runtime's converge, returning a Retirement that records what it stops."""
    fake_converge = platform.scheduler.converge

    def converge(desired, log=None):
        retirement = fake_converge(desired, log)
        events.append("switched")

        def stop(instance):
            events.append(f"stopped {instance.container.name}")
            if instance.container.name == "stuck":
                raise PlatformError("Docker is not reachable", code="docker_down")

        old = [RunningInstance(SimpleNamespace(name=name), desired.app, 1, "web", 1)
               for name in old_instances]
        return Retirement(desired.app, retirement.upstreams, old, stop=stop)

    platform.scheduler.converge = converge


def test_a_release_is_current_and_announced_before_the_old_containers_retire(platform, app,
                                                                           monkeypatch):
    monkeypatch.setattr("paas.runtime.scheduler.ROUTER_SETTLE_SECONDS", 0)
    platform.deploy(app, "sha256:one")
    events = []
    converge_leaving(platform, ["old"], events)
    platform.images.add_image("sha256:two")
    release = releases.create_release(app, "sha256:two", app.config, {"web": None}, "Deploy")

    with releases.deploying(release) as serving:
        serving.refresh_from_db()
        events.append(f"serving {serving.version} {serving.status}")

    assert events == ["switched", "serving v2 current", "stopped old"]
    release.refresh_from_db()
    assert release.status == "current"


def test_an_old_container_that_will_not_stop_never_fails_the_serving_release(platform, app,
                                                                            monkeypatch):
    monkeypatch.setattr("paas.runtime.scheduler.ROUTER_SETTLE_SECONDS", 0)
    platform.deploy(app, "sha256:one")
    events = []
    converge_leaving(platform, ["stuck"], events)
    lines = []

    release = releases.set_config(app, {"GREETING": "new"}, [], log=lines.append)

    release.refresh_from_db()
    assert release.status == "current"
    assert events == ["switched", "stopped stuck"]
    assert any("could not stop" in line and "next reconcile" in line for line in lines)


@override_settings(PAAS_RELEASE_TIMEOUT=42)
def test_the_release_command_gets_paas_release_timeout(platform, app):
    timeouts = []

    def slow_oneoff(desired, command, kind, timeout, log=None):
        timeouts.append(timeout)
        return SimpleNamespace(exit_code=124, output="", timed_out=True)

    platform.scheduler.run_oneoff = slow_oneoff
    platform.images.add_image("sha256:one")
    release = releases.create_release(app, "sha256:one", app.config, WITH_RELEASE, "Deploy")

    with pytest.raises(UserError) as raised:
        releases.deploy_release(release)

    assert timeouts == [42]
    assert raised.value.code == "release_phase_failed"
    assert "longer than 42 seconds (PAAS_RELEASE_TIMEOUT)" in str(raised.value)
    release.refresh_from_db()
    assert release.status == "failed"
