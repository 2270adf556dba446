"""The periodic tasks never pile up: each run expires once the next is due."""

from django.conf import settings


def test_every_periodic_task_expires_when_the_next_one_is_due():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert set(schedule) == {"reconcile-all-apps", "reroute-moved-ports", "renew-certificates"}
    for entry in schedule.values():
        assert entry["options"]["expires"] == entry["schedule"] > 0
