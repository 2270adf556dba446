import base64

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from paas.core.accounts import create_token
from paas.git.auth import basic_auth_user


def _request(credentials: str | None):
    headers = {}
    if credentials is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    return RequestFactory().get("/git/x.git/info/refs", **headers)


@pytest.mark.django_db
def test_it_accepts_the_users_own_token():
    owner = get_user_model().objects.create_user("owner")
    token = create_token(owner)
    assert basic_auth_user(_request(f"owner:{token}")) == owner


@pytest.mark.django_db
def test_it_rejects_a_token_presented_under_another_name():
    get_user_model().objects.create_user("outsider")
    owner = get_user_model().objects.create_user("owner")
    token = create_token(owner)
    assert basic_auth_user(_request(f"outsider:{token}")) is None


@pytest.mark.django_db
@pytest.mark.parametrize("credentials", [None, "owner:wrong", "owner", ""])
def test_it_rejects_missing_or_bad_credentials(credentials):
    get_user_model().objects.create_user("owner")
    assert basic_auth_user(_request(credentials)) is None
