"""Users' API tokens: the credential for the JSON API, the CLI and git pushes."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone

from paas.core.models import ApiToken


def create_token(user, name: str = "default") -> str:
    """Create an API token for ``user`` and return it. Only its hash is stored."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, key_hash=ApiToken.hash_key(key), prefix=key[:8])
    return key


def authenticate_token(key: str, username: str | None = None):
    """Return the active user owning token ``key`` (and named ``username`` if given), or None."""
    if not key:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash_key(key), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    if username is not None and token.user.get_username() != username:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


def ensure_admin(username: str, email: str = "") -> tuple[User, str | None, str | None]:
    """Create the superuser ``username`` with a random password and a token if it is missing.

    Returns (user, password, token); password and token are None when the user already existed,
    because they are shown once and never stored in clear.
    """
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, None, None
    password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(username=username, email=email, password=password)
    return user, password, create_token(user, name="admin")
