"""Faults leave the platform consistent: a dead holder frees its lock, an abandoned deploy is
failed, a build nobody will run is failed, a refused broker fails the build at once."""

import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from paas.core import builds, locks, reconcile
from paas.core.buildlog import stream_key
from paas.core.models import Build, Release
from paas.errors import PlatformError

pytestmark = pytest.mark.django_db


class RecordingLock:
    def __init__(self) -> None:
        self.extended: list[float] = []
        self.released = False

    def acquire(self, blocking=None, blocking_timeout=None) -> bool:
        return True

    def release(self) -> None:
        self.released = True

    def extend(self, additional_time, replace_ttl=False) -> bool:
        self.extended.append(additional_time)
        return True


def test_a_held_lock_lives_only_a_short_ttl_and_is_renewed_while_held(platform, monkeypatch):
    made = []

    def new_lock(name, timeout):
        made.append((name, timeout))
        return lock

    lock = RecordingLock()
    platform.new_lock = new_lock
    monkeypatch.setattr(locks, "LOCK_TTL_SECONDS", 0.03)

    with locks.app_lock("shop", "deploy", wait=1):
        for _ in range(3000):  # bounded: until it has been renewed twice
            if len(lock.extended) >= 2:
                break
            time.sleep(0.01)

    # A holder that dies stops renewing: its lock is gone within the short TTL.
    assert made == [("paas:app:shop:deploy", 0.03)]
    assert len(lock.extended) >= 2 and set(lock.extended) == {0.03}
    assert lock.released


def test_redis_down_is_a_clear_platform_error(platform):
    def unreachable(name, timeout):
        raise redis.ConnectionError("Connection refused")

    platform.new_lock = unreachable
    with pytest.raises(PlatformError) as raised, locks.app_lock("shop", "push", wait=1):
        pass

    assert raised.value.code == "redis_down"
    assert "Redis is not reachable" in str(raised.value)


def test_reconcile_fails_a_deploy_whose_worker_died_and_keeps_the_current_release(platform,
                                                                                  app):
    current = app.current_release
    platform.images.add_image("sha256:two")
    stuck = Release.objects.create(app=app, number=2, image="paas/shop:v2",
                                   image_id="sha256:two", status=Release.Status.DEPLOYING)

    reconcile.reconcile_app(app)

    stuck.refresh_from_db()
    assert stuck.status == "failed"
    assert "its worker went away" in stuck.failure_reason
    assert app.current_release == current
    assert platform.scheduler.converged[-1].release == current.number  # v1 still runs


def test_reconcile_leaves_a_deploy_alone_while_its_worker_holds_the_lock(platform, app):
    deploying = Release.objects.create(app=app, number=2, image="paas/shop:v2",
                                       image_id="sha256:two", status=Release.Status.DEPLOYING)

    with locks.app_lock("shop", "deploy", wait=1):
        reconcile.reconcile_app(app)  # skipped: the lock is busy

    deploying.refresh_from_db()
    assert deploying.status == "deploying"


def test_a_build_no_builder_took_in_time_is_failed_and_its_push_told(platform, app, users):
    old = Build.objects.create(app=app, commit_sha="a" * 40, branch="main",
                               created_by=users.owner)
    fresh = Build.objects.create(app=app, commit_sha="b" * 40, branch="main",
                                 created_by=users.owner)
    Build.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1))

    reconcile.reconcile_all()

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, old.error_code) == ("failed", "not_started")
    assert fresh.status == "queued"
    end = platform.redis.streams[stream_key(old.pk)][-1][1]
    assert end[b"kind"] == b"end" and end[b"status"] == b"failed"


def test_a_build_the_broker_refuses_fails_at_once(platform, app, users):
    def refuse(task, args):
        raise ConnectionError("broker down")

    platform.queue.send = refuse

    with pytest.raises(PlatformError) as raised:
        builds.start_build(app, "c" * 40, users.owner, "main")

    assert raised.value.code == "broker_down"
    build = Build.objects.get(commit_sha="c" * 40)
    assert (build.status, build.error_code) == ("failed", "broker_down")


def test_an_nginx_config_error_keeps_the_old_routing_and_removes_the_new_containers(
        tmp_path, monkeypatch):
    from paas.router.nginx import AppRoute, Router
    from paas.runtime import docker_scheduler
    from paas.runtime.docker_scheduler import DockerScheduler
    from paas.runtime.scheduler import DesiredApp
    from tests.unit.runtime.fake_docker import FakeDocker

    monkeypatch.setattr(docker_scheduler, "wait_until_healthy", lambda *args: None)
    router = Router(nginx_dir=tmp_path / "nginx", log_dir=tmp_path / "logs",
                    run_dir=tmp_path / "run", port=18998)
    router.write_main_config()
    docker = FakeDocker()
    old = docker.add("shop", 1, "web", 1)
    router.set_route(AppRoute("shop", ("shop.localhost",), (old.upstream,)))
    live = (router.apps_dir / "shop.conf").read_text()
    # Something outside paas broke another file nginx reads.
    (router.apps_dir / "zz-broken.conf").write_text("server { this is not nginx }\n")
    scheduler = DockerScheduler(docker, router, healthcheck_timeout=1, drain_seconds=0)
    # A new domain: its server block changes, so nginx must check the configuration.
    wanted = DesiredApp(app="shop", release=2, image="paas/shop:v2", env={},
                        process_types={"web": None}, quantities={"web": 1},
                        hostnames=("shop.localhost", "shop.example.com"))

    with pytest.raises(PlatformError) as raised:
        scheduler.converge(wanted)

    assert raised.value.code == "router_invalid"
    assert (router.apps_dir / "shop.conf").read_text() == live
    assert router.routed_upstreams("shop") == (old.upstream,)
    assert list(docker.containers) == [old.name]  # the new container went, the old serves


def test_a_change_whose_worker_died_fails_instead_of_keeping_its_follower_waiting(
        platform, app, users, monkeypatch):
    from paas.core import actionlog, actions

    monkeypatch.setattr(actionlog, "LOST_WORKER_CHECK_SECONDS", 1)
    platform.hold_actions = True
    action = actions.start_scale(app, users.owner, {"web": 2})
    # A worker took it, then died: running, no heartbeat, no end in its log.
    actionlog.update_record(action.id, status=actionlog.Status.RUNNING)

    lines = list(actionlog.log_lines(action))

    assert None in lines  # it waited a moment first
    ended = actionlog.get_action(action.id)
    assert (ended.status, ended.error_code) == ("failed", "worker_lost")
    with pytest.raises(PlatformError) as raised:
        actionlog.raise_for_outcome(ended)
    assert "its worker went away" in str(raised.value)
    assert app.formations.get(process_type="web").quantity == 1


def test_a_build_that_prints_without_end_cannot_fill_redis(platform, tmp_path):
    from paas.core.buildlog import MAX_STREAM_ENTRIES, BuildLogWriter

    log = BuildLogWriter(platform.redis, 7, tmp_path / "7.log")
    for number in range(MAX_STREAM_ENTRIES + 50):
        log(f"line {number}")
    log.close()

    kept = platform.redis.streams[stream_key(7)]
    assert len(kept) == MAX_STREAM_ENTRIES  # the stream keeps its newest lines
    assert kept[-1][1][b"text"] == f"line {MAX_STREAM_ENTRIES + 49}".encode()
    assert len((tmp_path / "7.log").read_text().splitlines()) == MAX_STREAM_ENTRIES + 50
