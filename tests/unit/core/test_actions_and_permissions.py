"""Core checks each change before it is queued and who may make it, so the API and the
dashboard only parse and render."""

import pytest

from paas.core import actions, applications
from paas.core.models import App
from paas.errors import Forbidden, NotFound, UserError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("start", "code"), [
    (lambda app, user: actions.start_config_change(app, user, {"9X": "1"}, []),
     "invalid_config_key"),
    (lambda app, user: actions.start_config_change(app, user, {}, []), "invalid_request"),
    (lambda app, user: actions.start_scale(app, user, {"clock": 1}), "unknown_process_type"),
    (lambda app, user: actions.start_scale(app, user, {"web": 99}), "invalid_quantity"),
    (lambda app, user: actions.start_scale(app, user, {}), "invalid_request"),
    (lambda app, user: actions.start_resize(app, user, "web", "lots", None), "invalid_limit"),
    (lambda app, user: actions.start_resize(app, user, "web", 256, None), "invalid_limit"),
    (lambda app, user: actions.start_resize(app, user, "web", None, None), "invalid_request"),
    (lambda app, user: actions.start_rollback(app, user, "latest"), "invalid_request"),
    (lambda app, user: actions.start_rollback(app, user, "v9"), "release_not_found"),
    (lambda app, user: actions.start_volume_add(app, user, "Up", "/data"), "invalid_volume"),
    (lambda app, user: actions.start_volume_add(app, user, "up", "/etc/x"),
     "invalid_mount_path"),
    (lambda app, user: actions.start_volume_remove(app, user, "none", False),
     "volume_not_found"),
])
def test_a_bad_change_is_refused_before_anything_is_queued(platform, app, users, start, code):
    with pytest.raises(UserError) as raised:
        start(app, users.collaborator)

    assert raised.value.code == code
    assert platform.queue.sent == [] and platform.redis.hashes == {}


@pytest.mark.parametrize(("start", "description"), [
    (lambda app, user: actions.start_config_change(app, user, {"B": "1", "A": "2"}, ["C"]),
     "Set A, B; Unset C"),
    (lambda app, user: actions.start_scale(app, user, {"web": 2}), "Scale to web=2"),
    (lambda app, user: actions.start_resize(app, user, "web", "256m", ""),
     "Resize web: memory 256m, cpus unlimited"),
    (lambda app, user: actions.start_rollback(app, user, "v1"), "Roll back to v1"),
    (lambda app, user: actions.start_volume_add(app, user, "up", "/data"),
     "Mount up at /data"),
])
def test_each_change_is_described_once_for_every_surface(platform, app, users, start,
                                                         description):
    platform.hold_actions = True

    action = start(app, users.collaborator)

    assert action.description == description
    assert action.status == "queued" and action.username == "collaborator"
    assert platform.queued_actions == [action.id]


def test_the_outcome_is_said_in_the_words_of_the_button(platform, app, users):
    action = actions.start_scale(app, users.owner, {"web": 3})

    shown = actions.get_action(action.id)
    assert shown.status == "succeeded"
    assert actions.outcome_message(shown) == "Scaled to web=3."


def test_only_the_owner_destroys_an_app_or_manages_collaborators(platform, app, users):
    for attempt in (lambda: applications.destroy_app(app, users.collaborator),
                    lambda: applications.add_collaborator(app, "outsider",
                                                          by=users.collaborator),
                    lambda: applications.remove_collaborator(app, "collaborator",
                                                             by=users.collaborator)):
        with pytest.raises(Forbidden):
            attempt()

    assert App.objects.filter(name="shop").exists()
    assert list(app.collaborators.values_list("username", flat=True)) == ["collaborator"]
    assert platform.scheduler.removed == []


def test_the_owner_destroys_the_app_with_its_containers(platform, app, users):
    applications.destroy_app(app, users.owner)

    assert not App.objects.filter(name="shop").exists()
    assert platform.scheduler.removed == ["shop"]
    assert not any(ref.startswith("paas/shop:") for ref in platform.images.images)


def test_an_outsider_finds_no_app_at_all(app, users):
    with pytest.raises(NotFound):
        applications.get_app("shop", users.outsider)
