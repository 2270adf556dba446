import pytest
from django.contrib.auth import get_user_model

from paas.core.buildcache import cache_id
from paas.core.models import App


@pytest.mark.django_db
def test_two_installations_never_share_an_apps_build_cache(settings, tmp_path):
    owner = get_user_model().objects.create_user("owner")
    app = App.objects.create(name="shop", owner=owner)
    settings.PAAS_HOME = tmp_path / "one"
    first = cache_id(app)
    settings.PAAS_HOME = tmp_path / "two"
    assert cache_id(app) != first
    assert first.startswith("paas-shop-")
