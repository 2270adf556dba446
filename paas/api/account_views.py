"""The API of accounts: password login for a token, each user's own tokens, and (for
superusers) users and the installation's nodes. Every handler calls one ``paas.core.accounts``
or ``paas.core.nodes`` service."""

from typing import Any

from django.http import HttpRequest

from paas.api import serializers
from paas.api.auth import anonymous_api_view, api_view, read_json
from paas.core import accounts, nodes, throttle
from paas.errors import UserError


def _text(body: dict, field: str, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise UserError(f"give '{field}' as a string", code="invalid_request")
    return value


def _user_param(request: HttpRequest, body: dict | None = None) -> str | None:
    """The ``user`` whose tokens a superuser manages (query or body); None: one's own."""
    value = (body or {}).get("user", request.GET.get("user"))
    if value is not None and not isinstance(value, str):
        raise UserError("'user' must be a username", code="invalid_request")
    return value or None


def login(request: HttpRequest) -> dict[str, Any]:
    body = read_json(request)
    record, key = accounts.login_with_password(
        _text(body, "username") or "", _text(body, "password") or "",
        throttle.client_address(request.META), _text(body, "token_name") or "",
        body.get("expires_in_days"))
    return _issued(record, key)


def _issued(record, key: str) -> dict[str, Any]:
    return {"username": record.user.get_username(), "token": key, **serializers.token(record)}


def list_tokens(request: HttpRequest, user) -> list[dict[str, Any]]:
    return [serializers.token(t) for t in accounts.list_tokens(user, _user_param(request))]


def create_token(request: HttpRequest, user) -> dict[str, Any]:
    body = read_json(request)
    record, key = accounts.create_token_for(user, _user_param(request, body),
                                            _text(body, "name") or "",
                                            body.get("expires_in_days"))
    return _issued(record, key)


def revoke_token(request: HttpRequest, user, token: str) -> dict[str, Any]:
    revoked = accounts.revoke_token(user, token, _user_param(request))
    return {"revoked": revoked.name, "prefix": revoked.prefix}


def list_users(request: HttpRequest, user) -> list[dict[str, Any]]:
    return [serializers.user(u) for u in accounts.list_users(user)]


def create_user(request: HttpRequest, user) -> dict[str, Any]:
    body = read_json(request)
    created = accounts.create_user(user, _text(body, "username") or "",
                                   _text(body, "email", required=False) or "")
    return {**serializers.user(created.user), "password": created.password}


def change_user(request: HttpRequest, user, username: str) -> dict[str, Any]:
    active = read_json(request).get("is_active")
    if not isinstance(active, bool):
        raise UserError("give 'is_active' as true or false", code="invalid_request")
    return serializers.user(accounts.set_user_active(user, username, active))


def list_nodes(request: HttpRequest, user) -> list[dict[str, Any]]:
    return [serializers.node(n) for n in nodes.list_nodes(user)]


def join_command(request: HttpRequest, user) -> dict[str, Any]:
    return {"command": nodes.join_command(user)}


login_view = anonymous_api_view(post=login)
tokens_view = api_view(get=list_tokens, post=create_token)
token_view = api_view(delete=revoke_token)
users_view = api_view(get=list_users, post=create_user)
user_view = api_view(patch=change_user)
nodes_view = api_view(get=list_nodes)
join_command_view = api_view(get=join_command)
