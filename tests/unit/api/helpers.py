import json
from dataclasses import dataclass
from typing import Any

from django.test import Client

from paas.core.accounts import create_token


@dataclass
class ApiClient:
    """Django's test client speaking JSON with one user's bearer token."""

    client: Client
    token: str

    def call(self, method: str, path: str, body: Any = None):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method.lower())(f"/api{path}", **kwargs)


def api_for(user) -> ApiClient:
    return ApiClient(Client(), create_token(user))
