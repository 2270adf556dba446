"""Accounts: tokens stored hashed, expiring and revocable; users made by superusers only;
failed sign-ins throttled on every door (API login, dashboard and admin forms, git and API
tokens). Each case checks the refusal and that nothing changed."""

import base64
import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from paas.core import accounts
from paas.core.models import ApiToken
from tests.unit.api.helpers import ApiClient, api_for

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", password="root-pass")


def _basic(username: str, token: str) -> dict:
    encoded = base64.b64encode(f"{username}:{token}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {encoded}"}


def _git_refs(credentials: dict):
    return Client().get("/git/shop.git/info/refs", {"service": "git-upload-pack"},
                        **credentials)


# --- tokens --------------------------------------------------------------------------------


def test_it_stores_only_the_hash_of_a_token(users):
    key = accounts.create_token(users.owner, "laptop")
    stored = ApiToken.objects.get(user=users.owner)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:8]
    assert all(key not in str(value) for value in
               ApiToken.objects.filter(pk=stored.pk).values().get().values())


def test_it_refuses_an_expired_token_on_the_api_and_git(users, app):
    record, key = accounts.issue_token(users.owner, "short", expires_in_days=1)
    ApiToken.objects.filter(pk=record.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert ApiClient(Client(), key).call("GET", "/apps").status_code == 401
    assert _git_refs(_basic("owner", key)).status_code == 401
    assert ApiToken.objects.get(pk=record.pk).last_used_at is None


def test_it_refuses_a_revoked_token_on_the_api_and_git(users, app):
    api = api_for(users.owner)
    key = accounts.create_token(users.owner, "ci")
    assert api.call("DELETE", "/tokens/ci").json() == {"revoked": "ci", "prefix": key[:8]}
    assert ApiClient(Client(), key).call("GET", "/apps").status_code == 401
    assert _git_refs(_basic("owner", key)).status_code == 401
    assert not ApiToken.objects.filter(user=users.owner, name="ci").exists()


def test_it_records_when_a_token_was_last_used(users):
    record, key = accounts.issue_token(users.owner, "used")
    assert ApiClient(Client(), key).call("GET", "/whoami").status_code == 200
    assert ApiToken.objects.get(pk=record.pk).last_used_at is not None


@pytest.mark.parametrize("days", [0, -1, 3651, "7", True, 1.5])
def test_it_refuses_an_expiry_that_is_not_a_day_count(users, days):
    api = api_for(users.owner)
    before = ApiToken.objects.count()
    response = api.call("POST", "/tokens", {"name": "odd", "expires_in_days": days})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_expiry"
    assert ApiToken.objects.count() == before


@pytest.mark.parametrize("name", ["", "Laptop", "9lives", "a b", "-rf", "x" * 31, "a/b"])
def test_it_refuses_a_token_name_that_breaks_the_rules(users, name):
    api = api_for(users.owner)
    before = ApiToken.objects.count()
    response = api.call("POST", "/tokens", {"name": name})
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_token_name", "invalid_request")
    assert ApiToken.objects.count() == before


def test_token_names_are_unique_per_user_only(users):
    accounts.create_token(users.owner, "laptop")
    accounts.create_token(users.outsider, "laptop")  # another user's: fine
    response = api_for(users.owner).call("POST", "/tokens", {"name": "laptop"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "token_name_taken"
    assert ApiToken.objects.filter(user=users.owner, name="laptop").count() == 1


def test_it_refuses_an_outsider_the_tokens_of_others(users):
    key = accounts.create_token(users.owner, "ci")
    outsider = api_for(users.outsider)
    assert outsider.call("GET", "/tokens?user=owner").status_code == 403
    assert outsider.call("POST", "/tokens", {"name": "mine", "user": "owner"}).status_code == 403
    # Revoking by the owner's prefix looks only among the outsider's own tokens.
    revoked = outsider.call("DELETE", f"/tokens/{key[:8]}")
    assert revoked.status_code == 404
    assert revoked.json()["error"]["code"] == "token_not_found"
    assert accounts.authenticate_token(key) == users.owner
    assert not ApiToken.objects.filter(user=users.owner, name="mine").exists()


def test_a_superuser_may_manage_another_users_tokens(users, root):
    response = api_for(root).call("POST", "/tokens", {"name": "deploy", "user": "owner"})
    assert response.status_code == 201
    assert accounts.authenticate_token(response.json()["token"]) == users.owner
    listed = api_for(root).call("GET", "/tokens?user=owner").json()
    assert [t["name"] for t in listed] == ["deploy"]
    assert "token" not in listed[0] and "key_hash" not in listed[0]


def test_the_tokens_page_shows_a_new_token_once_and_lists_only_your_own(users):
    accounts.create_token(users.outsider, "outsiders")
    client = Client()
    client.force_login(users.owner)
    created = client.post("/account/tokens/", {"name": "laptop", "expires_in": "30"})
    assert created.status_code == 201
    record = ApiToken.objects.get(user=users.owner, name="laptop")
    html = created.content.decode()
    key = html.split("data-token>")[1].split("<")[0]
    assert accounts.authenticate_token(key) == users.owner and record.expires_at is not None
    listed = client.get("/account/tokens/").content.decode()
    assert key not in listed and 'data-token-name="laptop"' in listed
    assert "outsiders" not in listed
    client.post("/account/tokens/revoke", {"name": "outsiders"})
    assert ApiToken.objects.filter(name="outsiders").exists()


# --- users ---------------------------------------------------------------------------------


def test_it_refuses_users_add_to_a_plain_user(users):
    response = api_for(users.owner).call("POST", "/users", {"username": "mallory"})
    assert response.status_code == 403
    assert not User.objects.filter(username="mallory").exists()
    assert api_for(users.owner).call("GET", "/users").status_code == 403


def test_a_superuser_adds_a_user_with_a_one_time_password(root):
    response = api_for(root).call("POST", "/users", {"username": "dana"})
    assert response.status_code == 201
    password = response.json()["password"]
    dana = User.objects.get(username="dana")
    assert dana.check_password(password) and password not in dana.password
    assert not (dana.is_staff or dana.is_superuser)
    again = api_for(root).call("POST", "/users", {"username": "dana"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "user_exists"


@pytest.mark.parametrize("username", ["Dana", "da na", "-rf", "a:b", "a@b", "", "x" * 41])
def test_it_refuses_a_username_that_breaks_the_rules(root, username):
    before = User.objects.count()
    response = api_for(root).call("POST", "/users", {"username": username})
    assert response.status_code == 400
    assert User.objects.count() == before


def test_it_refuses_a_superuser_deactivating_themselves(root):
    response = api_for(root).call("PATCH", "/users/root", {"is_active": False})
    assert response.status_code == 403
    assert User.objects.get(username="root").is_active


def test_a_deactivated_users_token_and_session_stop_working(users, root):
    api = api_for(users.owner)
    session = Client()
    session.force_login(users.owner)
    assert api_for(root).call("PATCH", "/users/owner", {"is_active": False}).status_code == 200
    assert api.call("GET", "/apps").status_code == 401
    assert session.get("/").status_code == 302


def test_the_users_page_is_not_found_for_plain_users(users):
    client = Client()
    client.force_login(users.owner)
    assert client.get("/users/").status_code == 404
    assert client.post("/users/new", {"username": "mallory"}).status_code == 404
    assert client.post("/users/active", {"username": "outsider", "active": "0"}).status_code \
        == 404
    assert not User.objects.filter(username="mallory").exists()
    assert User.objects.get(username="outsider").is_active


def test_the_users_page_creates_a_user_and_shows_the_password_once(root):
    client = Client()
    client.force_login(root)
    created = client.post("/users/new", {"username": "dana"})
    assert created.status_code == 201
    password = created.content.decode().split("data-password>")[1].split("<")[0]
    assert User.objects.get(username="dana").check_password(password)
    assert password not in client.get("/users/").content.decode()


def test_the_admin_is_for_superusers_only(users, app):
    users.owner.is_staff = True
    users.owner.save()
    client = Client()
    client.force_login(users.owner)
    for path in ("/admin/", "/admin/core/app/", "/admin/core/apitoken/"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], path


def test_the_admin_cannot_add_or_reassign_tokens(users, root):
    record, _ = accounts.issue_token(users.owner, "laptop")
    client = Client()
    client.force_login(root)
    assert client.get("/admin/core/apitoken/add/").status_code == 403
    response = client.post(f"/admin/core/apitoken/{record.pk}/change/",
                           {"user": users.outsider.pk, "name": "laptop"})
    assert response.status_code == 403
    assert ApiToken.objects.get(pk=record.pk).user == users.owner


# --- throttling ----------------------------------------------------------------------------


def _api_login(username: str, password: str, name: str = "cli"):
    return Client().post("/api/login", {"username": username, "password": password,
                                        "token_name": name}, content_type="application/json")


def test_it_throttles_password_logins_per_username_even_with_the_right_password(users):
    for _ in range(10):
        assert _api_login("owner", "guess").status_code == 401
    refused = _api_login("owner", "owner-pass")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_failures"
    assert int(refused["Retry-After"]) > 0
    assert not ApiToken.objects.filter(user=users.owner).exists()


def test_it_throttles_password_logins_per_address_across_usernames(users):
    for number in range(10):
        assert _api_login(f"nobody{number}", "guess").status_code == 401
    assert _api_login("collaborator", "collab-pass").status_code == 429
    assert not ApiToken.objects.exists()


def test_successful_logins_are_not_counted(users, platform):
    for number in range(12):
        assert _api_login("owner", "owner-pass", name=f"cli-{number}").status_code == 201
    assert platform.redis.values == {}
    assert ApiToken.objects.filter(user=users.owner).count() == 12


def test_it_throttles_the_dashboard_login_form(users):
    for _ in range(10):
        assert Client().post("/login/", {"username": "owner", "password": "x"}).status_code \
            == 200
    client = Client()
    response = client.post("/login/", {"username": "owner", "password": "owner-pass"})
    assert response.status_code == 200
    assert "too many failed sign-ins; wait 5 minutes" in response.content.decode()
    assert client.get("/").status_code == 302  # not logged in


def test_it_throttles_the_admin_login_form(root):
    for _ in range(10):
        Client().post("/admin/login/", {"username": "root", "password": "x"})
    client = Client()
    response = client.post("/admin/login/", {"username": "root", "password": "root-pass"})
    assert "too many failed sign-ins" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_it_answers_429_to_git_after_too_many_bad_tokens_but_a_good_token_still_works(
        users, app):
    for _ in range(10):
        assert _git_refs(_basic("owner", "wrong")).status_code == 401
    refused = _git_refs(_basic("owner", "wrong"))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    good = accounts.create_token(users.owner, "laptop")
    assert _git_refs(_basic("owner", good)).status_code == 200


def test_it_answers_429_to_bad_bearer_tokens_but_a_good_token_still_works(users):
    for _ in range(10):
        assert ApiClient(Client(), "wrong").call("GET", "/apps").status_code == 401
    refused = ApiClient(Client(), "wrong").call("GET", "/apps")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_failures"
    assert api_for(users.owner).call("GET", "/apps").status_code == 200


def test_requests_without_credentials_are_not_counted(platform):
    for _ in range(15):
        assert Client().get("/api/apps").status_code == 401
    assert platform.redis.values == {}


def test_a_user_replaces_their_one_time_password(users):
    client = Client()
    client.force_login(users.owner)
    wrong = client.post("/account/password/", {"old_password": "nope", "new_password1":
                                               "a-long-new-secret-1", "new_password2":
                                               "a-long-new-secret-1"})
    assert wrong.status_code == 200
    assert User.objects.get(username="owner").check_password("owner-pass")
    changed = client.post("/account/password/", {"old_password": "owner-pass", "new_password1":
                                                 "a-long-new-secret-1", "new_password2":
                                                 "a-long-new-secret-1"})
    assert changed.status_code == 302
    owner = User.objects.get(username="owner")
    assert owner.check_password("a-long-new-secret-1") and not owner.check_password("owner-pass")
    assert client.get("/account/tokens/").status_code == 200  # still signed in
