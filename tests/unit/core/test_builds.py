"""A build, once its image exists: it succeeds as soon as its release serves, before the old
containers retire; a push relays its log and learns how it ended."""

import pytest

from paas.core import builds, heartbeat, releases
from paas.core.buildlog import stream_key
from paas.core.models import Build
from paas.errors import UserError
from paas.runtime import scheduler
from paas.runtime.scheduler import Retirement

pytestmark = pytest.mark.django_db


class Old:
    """An old instance, as a Retirement sees it."""

    label = "web.1"
    release = 1


@pytest.fixture
def build(app, users):
    return Build.objects.create(app=app, commit_sha="a" * 40, branch="main",
                                created_by=users.owner)


def test_the_build_succeeds_when_its_release_serves_and_the_old_containers_retire_after(
        platform, app, build, monkeypatch):
    monkeypatch.setattr(scheduler, "ROUTER_SETTLE_SECONDS", 0)
    events = []

    def image_built(build, log, build_watch):
        platform.images.add_image("sha256:two")
        return releases.create_release(app, "sha256:two", app.config, {"web": None},
                                       "Deploy aaaaaaa", build=build)

    def converge(desired, log=None):
        events.append(f"serving v{desired.release}")

        def stop(instance):
            # (A thread of the retirement: the push's view, the log's end, not the database.)
            last = platform.redis.streams[stream_key(build.pk)][-1][1]
            events.append(f"retiring, build {last.get(b'status', b'running').decode()}")

        return Retirement(desired.app, ["127.0.0.1:40001"], [Old()], stop=stop)

    monkeypatch.setattr(builds, "_build_release", image_built)
    platform.scheduler.converge = converge

    builds.run_build(build.pk)

    assert events == ["serving v2", "retiring, build succeeded"]
    build.refresh_from_db()
    assert build.status == "succeeded"
    assert app.current_release.number == 2
    entries = platform.redis.streams[stream_key(build.pk)]
    assert entries[-1][1][b"kind"] == b"end" and entries[-1][1][b"status"] == b"succeeded"


def test_a_release_that_fails_its_health_check_fails_the_build_and_keeps_the_old_one(
        platform, app, build, monkeypatch):
    def image_built(build, log, build_watch):
        platform.images.add_image("sha256:two")
        return releases.create_release(app, "sha256:two", app.config, {"web": None},
                                       "Deploy aaaaaaa", build=build)

    def unhealthy(desired, log=None):
        raise UserError("web.1 never answered", code="healthcheck_failed")

    monkeypatch.setattr(builds, "_build_release", image_built)
    platform.scheduler.converge = unhealthy

    builds.run_build(build.pk)

    build.refresh_from_db()
    assert (build.status, build.error_code) == ("failed", "healthcheck_failed")
    assert app.current_release.number == 1
    assert app.releases.get(number=2).status == "failed"


def test_a_push_relays_the_build_log_and_returns_how_it_ended(platform, app, users):
    def worker(task, args):
        (build_id,) = args
        key = stream_key(build_id)
        platform.redis.xadd(key, {"kind": "line", "text": "-----> Building shop"})
        platform.redis.xadd(key, {"kind": "end", "status": "failed", "text": "no Dockerfile"})
        return "task-1"

    platform.queue.send = worker
    said = []

    outcome = builds.build_pushed_commit(app, "b" * 40, users.owner, "main", said.append)

    build = Build.objects.get(pk=outcome.build_id)
    assert said == [f"-----> Build {build.pk} queued for shop", "-----> Building shop"]
    assert (outcome.status, outcome.message, outcome.succeeded) == ("failed", "no Dockerfile",
                                                                  False)
    assert build.task_id == "task-1" and build.commit_sha == "b" * 40


def test_a_push_whose_build_lost_its_worker_fails_instead_of_waiting(platform, app, users,
                                                                     monkeypatch):
    monkeypatch.setattr(heartbeat, "LOST_WORKER_CHECK_SECONDS", 1)

    def worker_that_dies(task, args):
        # It took the build, then died: no heartbeat, no more log lines.
        Build.objects.filter(pk=args[0]).update(status=Build.Status.RUNNING)
        return "task-1"

    platform.queue.send = worker_that_dies

    outcome = builds.build_pushed_commit(app, "c" * 40, users.owner, "main", lambda line: None)

    assert outcome.status == "failed"
    assert "worker went away" in outcome.message
    assert Build.objects.get(pk=outcome.build_id).error_code == "worker_lost"
