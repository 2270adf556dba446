"""A reconcile pass over every app: one listing of what runs for all of them, each app then
converged under its own lock, and a crash loop recorded only as it is at the app's turn."""

import pytest

from paas.core import reconcile
from paas.core.applications import create_app
from paas.core.models import App
from paas.runtime.scheduler import Instance

pytestmark = pytest.mark.django_db


def crashing(app: str, release: int = 1) -> Instance:
    return Instance(app, release, "worker", 1, state="restarting", restart_count=4,
                    exit_code=3)


@pytest.fixture
def deployed(users, platform):
    names = ["blog", "shop", "wiki"]
    for name in names:
        platform.deploy(create_app(name, users.owner), image=f"sha256:{name}")
    platform.scheduler.listings.clear()
    platform.scheduler.converged.clear()
    return names


def test_a_pass_lists_what_runs_once_for_every_app_and_converges_each(platform, deployed):
    reconcile.reconcile_all()

    assert platform.scheduler.listings == [None]
    assert sorted(d.app for d in platform.scheduler.converged) == deployed


def test_a_crash_loop_seen_in_the_pass_is_recorded_after_a_fresh_look(platform, deployed):
    platform.scheduler.containers["shop"].append(crashing("shop"))

    reconcile.reconcile_all()

    assert platform.scheduler.listings == [None, "shop"]  # only the crashing app, again
    shop = App.objects.get(name="shop")
    assert shop.crashed_at is not None
    assert shop.crash_reason == "worker.1 crashed 5 times (last exit code 3)"
    assert App.objects.filter(crashed_at__isnull=False).count() == 1


def test_a_crash_loop_gone_by_the_apps_turn_is_not_recorded(platform, deployed):
    shop = App.objects.get(name="shop")

    # The pass's listing showed a crash loop; a deploy replaced the instances since.
    reconcile.reconcile_app(shop, listed=[crashing("shop")])

    shop.refresh_from_db()
    assert shop.crashed_at is None and shop.crash_reason == ""
    assert platform.scheduler.listings == ["shop"]


def test_an_app_reconciled_alone_lists_its_own_instances(platform, deployed):
    shop = App.objects.get(name="shop")
    platform.scheduler.containers["shop"].append(crashing("shop"))

    reconcile.reconcile_app(shop)

    assert platform.scheduler.listings == ["shop"]
    shop.refresh_from_db()
    assert shop.crashed_at is not None
