import pytest
from django.contrib.auth import get_user_model

from paas.core.models import App, Release


@pytest.mark.django_db
def test_only_a_releases_status_can_change_after_creation():
    owner = get_user_model().objects.create_user("owner")
    app = App.objects.create(name="imm", owner=owner)
    release = Release.objects.create(app=app, number=1, image="paas/imm:v1", image_id="sha256:x",
                                     config_snapshot={"A": "1"}, description="Deploy")
    release.status = Release.Status.CURRENT
    release.save(update_fields=["status"])
    release.config_snapshot = {"A": "2"}
    with pytest.raises(ValueError):
        release.save()
    assert Release.objects.get(pk=release.pk).config_snapshot == {"A": "1"}
