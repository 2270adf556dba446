"""App.status and App.current_release read prefetched data when a list loaded it, and give
the same answers as their own queries."""

import pytest
from django.utils import timezone

from paas.core.applications import app_summaries, create_app, with_status
from paas.core.models import App, Formation, Release

pytestmark = pytest.mark.django_db


@pytest.fixture
def apps(users, platform):
    """One app in each status."""
    running = create_app("running", users.owner)
    platform.deploy(running, image="sha256:r")
    crashed = create_app("crashed", users.owner)
    platform.deploy(crashed, image="sha256:c")
    App.objects.filter(pk=crashed.pk).update(crashed_at=timezone.now(), crash_reason="boom")
    stopped = create_app("stopped", users.owner)
    platform.deploy(stopped, image="sha256:s")
    Formation.objects.filter(app=stopped).update(quantity=0)
    create_app("never-deployed", users.owner)
    deploying = create_app("deploying", users.owner)
    first = platform.deploy(deploying, image="sha256:d")
    Release.objects.create(app=deploying, number=2, image="paas/deploying:v2",
                           image_id=first.image_id, status=Release.Status.DEPLOYING)
    return ["crashed", "deploying", "never-deployed", "running", "stopped"]


def test_prefetched_status_matches_the_queried_one_without_queries(apps,
                                                                   django_assert_num_queries):
    queried = {app.name: (app.status, app.current_release) for app in App.objects.all()}
    loaded = list(with_status(App.objects.all()))
    with django_assert_num_queries(0):
        prefetched = {app.name: (app.status, app.current_release) for app in loaded}
    assert prefetched == queried
    assert {name: status for name, (status, _) in queried.items()} == {
        "crashed": "crashed", "deploying": "deploying", "never-deployed": "stopped",
        "running": "running", "stopped": "stopped"}
    assert queried["deploying"][1].number == 1  # still serving v1 while v2 deploys


def test_a_plain_prefetch_of_releases_is_used_too(apps, django_assert_num_queries):
    loaded = list(App.objects.prefetch_related("releases", "formations"))
    with django_assert_num_queries(0):
        statuses = {app.name: app.status for app in loaded}
    assert statuses["running"] == "running" and statuses["deploying"] == "deploying"


def test_summaries_use_the_model_rules(users, apps):
    summaries = {s.app.name: s for s in app_summaries(users.owner)}
    assert summaries["crashed"].status == "crashed"
    assert summaries["deploying"].current_release.version == "v1"
    assert summaries["never-deployed"].last_deploy_at is None
