"""App.status and App.current_release read prefetched data when a list loaded it, and the apps
list (read as rows, not models) gives the same answers as the models' own queries."""

import pytest
from django.utils import timezone

from paas.core.applications import app_summaries, create_app
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


def test_the_apps_list_matches_the_models_own_status_and_release(users, apps):
    queried = {app.name: (app.status, app.current_release) for app in App.objects.all()}
    listed = {s.name: (s.status, s.current_version) for s in app_summaries(users.owner)}
    assert listed == {name: (status, release.version if release else None)
                      for name, (status, release) in queried.items()}
    assert {name: status for name, (status, _) in listed.items()} == {
        "crashed": "crashed", "deploying": "deploying", "never-deployed": "stopped",
        "running": "running", "stopped": "stopped"}
    assert listed["deploying"][1] == "v1"  # still serving v1 while v2 deploys


def test_a_plain_prefetch_of_releases_is_used_too(apps, django_assert_num_queries):
    loaded = list(App.objects.prefetch_related("releases", "formations"))
    with django_assert_num_queries(0):
        statuses = {app.name: app.status for app in loaded}
    assert statuses["running"] == "running" and statuses["deploying"] == "deploying"


def test_summaries_use_the_model_rules(users, apps):
    summaries = {s.name: s for s in app_summaries(users.owner)}
    assert summaries["crashed"].status == "crashed"
    assert summaries["crashed"].crash_reason == "boom"
    assert summaries["deploying"].current_version == "v1"
    assert summaries["running"].last_deploy_at is not None
    assert summaries["never-deployed"].last_deploy_at is None
    assert summaries["running"].quantities == {"web": 1}
    assert summaries["stopped"].quantities == {"web": 0}
    assert summaries["running"].owner == "owner"


def test_the_summaries_take_three_queries_however_many_apps(users, platform,
                                                            django_assert_num_queries):
    for user in (users.owner, users.collaborator):  # all of them, and a visible few
        with django_assert_num_queries(3):
            app_summaries(user)
    for number in range(30):
        app = create_app(f"app-{number}", users.owner)
        app.collaborators.add(users.collaborator)
        platform.deploy(app, image=f"sha256:{number}")
    for user in (users.owner, users.collaborator):
        with django_assert_num_queries(3):
            assert len(app_summaries(user)) == 30
