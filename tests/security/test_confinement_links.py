"""Links between apps, the only way one app's containers reach another's: who may make
them, what they change, and that a refused or failed link changes nothing."""

import pytest

from paas.core import links
from paas.core.applications import create_app, destroy_app
from paas.core.models import App, AppLink
from paas.errors import NotFound, PlatformError, UserError
from tests.unit.api.helpers import api_for

django_db = pytest.mark.django_db


@django_db
def test_an_app_reaches_another_only_once_linked(users, app, platform):
    billing = create_app("billing", users.owner)
    platform.deploy(billing)
    assert platform.scheduler.joined["shop"] == {"shop"}

    links.link(app, "billing", users.owner)

    assert platform.scheduler.joined["shop"] == {"shop", "billing"}
    assert platform.scheduler.joined["billing"] == {"billing"}  # one way
    assert links.linked_apps(app) == ["billing"]

    links.unlink(app, "billing", users.owner)

    assert platform.scheduler.joined["shop"] == {"shop"}
    assert not AppLink.objects.exists()


@django_db
def test_it_refuses_a_link_to_an_app_the_user_cannot_see(users, app, platform, django_user_model):
    stranger = django_user_model.objects.create_user("stranger")
    create_app("secret", stranger)
    converges = len(platform.scheduler.converged)

    with pytest.raises(NotFound) as refused:
        links.link(app, "secret", users.owner)

    assert refused.value.code == "app_not_found"
    assert not AppLink.objects.exists()
    assert len(platform.scheduler.converged) == converges
    assert platform.scheduler.joined["shop"] == {"shop"}


@django_db
@pytest.mark.parametrize(("target", "code"), [("shop", "link_to_itself"),
                                              ("Bad_Name", "invalid_app_name"),
                                              ("--all", "invalid_app_name")])
def test_it_refuses_a_link_to_itself_or_to_a_bad_name(users, app, platform, target, code):
    with pytest.raises(UserError) as refused:
        links.link(app, target, users.owner)

    assert refused.value.code == code
    assert not AppLink.objects.exists()


@django_db
def test_it_refuses_the_same_link_twice(users, app, platform):
    create_app("billing", users.owner)
    links.link(app, "billing", users.owner)

    with pytest.raises(UserError) as refused:
        links.link(app, "billing", users.owner)

    assert refused.value.code == "link_exists"
    assert AppLink.objects.count() == 1


@django_db
def test_a_failed_redeploy_leaves_no_link_behind(users, app, platform, monkeypatch):
    create_app("billing", users.owner)

    def docker_down(desired, log=None):
        raise PlatformError("Docker is not reachable", code="docker_down")

    monkeypatch.setattr(platform.scheduler, "converge", docker_down)

    with pytest.raises(PlatformError):
        links.link(app, "billing", users.owner)

    assert not AppLink.objects.exists()


@django_db
def test_destroying_a_linked_app_removes_its_network_and_the_links_to_it(users, app, platform):
    billing = create_app("billing", users.owner)
    platform.deploy(billing)
    links.link(app, "billing", users.owner)

    destroy_app(billing, users.owner)

    assert not AppLink.objects.exists()
    assert "billing" not in platform.scheduler.networks
    assert platform.scheduler.joined["shop"] == {"shop"}
    assert not App.objects.filter(name="billing").exists()


@django_db
def test_an_outsider_can_neither_see_nor_change_an_apps_links(users, app, platform):
    create_app("billing", users.owner)
    outsider = api_for(users.outsider)

    listed = outsider.call("GET", "/apps/shop/links")
    added = outsider.call("POST", "/apps/shop/links", {"app": "billing"})

    assert (listed.status_code, added.status_code) == (404, 404)
    assert not AppLink.objects.exists()


@django_db
def test_the_owner_links_and_unlinks_through_the_api(users, app, platform):
    create_app("billing", users.owner)
    owner = api_for(users.owner)

    added = owner.call("POST", "/apps/shop/links", {"app": "billing"})
    assert (added.status_code, added.json()) == (201, {"links": ["billing"]})
    assert owner.call("GET", "/apps/shop/links").json() == {"links": ["billing"]}
    missing = owner.call("DELETE", "/apps/shop/links/nothing")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "link_not_found")
    removed = owner.call("DELETE", "/apps/shop/links/billing")

    assert removed.json() == {"links": []}
    assert not AppLink.objects.exists()
