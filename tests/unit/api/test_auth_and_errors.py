"""Token auth, JSON errors and the OpenAPI description."""

import pytest
from django.test import Client

from tests.unit.api.helpers import ApiClient, api_for

pytestmark = pytest.mark.django_db


def test_it_rejects_a_request_without_a_token_with_a_json_error():
    response = Client().get("/api/apps")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_rejects_a_bad_token(users):
    response = ApiClient(Client(), "not-a-token").call("GET", "/apps")
    assert response.status_code == 401


def test_it_rejects_the_token_of_an_inactive_user(users):
    api = api_for(users.owner)
    users.owner.is_active = False
    users.owner.save()
    assert api.call("GET", "/whoami").status_code == 401


def test_whoami_names_the_tokens_user(users):
    response = api_for(users.owner).call("GET", "/whoami")
    assert response.json() == {"username": "owner", "is_superuser": False}


def test_it_answers_an_unsupported_method_with_405(users):
    response = api_for(users.owner).call("PUT", "/apps")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_it_reports_a_malformed_body_as_invalid_json(users):
    api = api_for(users.owner)
    response = api.client.post("/api/apps", data="{nope", content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_it_needs_no_csrf_token_with_a_bearer_token(users):
    api = api_for(users.owner)
    api.client = Client(enforce_csrf_checks=True)
    assert api.call("POST", "/apps", {"name": "csrf-free"}).status_code == 201


def test_it_serves_an_openapi_description_of_every_route():
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert {"/apps", "/apps/{name}/config", "/apps/{name}/formation", "/apps/{name}/rollback",
            "/apps/{name}/builds/{build_id}/log", "/apps/{name}/run",
            "/apps/{name}/logs", "/apps/{name}/actions/{action_id}",
            "/apps/{name}/actions/{action_id}/log", "/apps/{name}/build-cache",
            "/apps/{name}/volumes", "/apps/{name}/formation/{process_type}"} \
        <= set(document["paths"])
    config = document["paths"]["/apps/{name}/config"]["patch"]
    assert "202" in config["responses"]
    assert any(p["name"] == "Prefer" for p in config["parameters"])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
