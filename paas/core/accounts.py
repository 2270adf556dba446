"""Users and their API tokens: the credential for the JSON API, the CLI and git pushes.

Every user creates, lists and revokes their own named tokens; a superuser may do so for anyone
and is the only one who creates or deactivates users. Tokens and one-time passwords come from
``secrets`` and are shown once: only a token's hash and a password's Django hash are stored.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from paas.core import throttle
from paas.core.models import ApiToken
from paas.errors import Forbidden, NotFound, UserError

# Like process types: safe in a URL path, a table and a shell, without quoting.
TOKEN_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,29}$")
# Usernames go into git remotes (http://<user>@host/...): nothing that needs escaping there.
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
MAX_EXPIRY_DAYS = 3650
# last_used_at is written at most this often per token: every API call and git request
# authenticates, and a write each time would make SQLite's one writer the bottleneck.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def validate_token_name(name: object) -> str:
    """Return ``name`` if it is a valid token name. Raises UserError(invalid_token_name)."""
    if not isinstance(name, str) or not TOKEN_NAME_RE.fullmatch(name):
        raise UserError(f"invalid token name {name!r}: use 1-30 lowercase letters, digits, "
                        "'-' and '_', starting with a letter", code="invalid_token_name")
    return name


def validate_username(name: object) -> str:
    """Return ``name`` if it is a valid new username. Raises UserError(invalid_username)."""
    if not isinstance(name, str) or not USERNAME_RE.fullmatch(name):
        raise UserError(f"invalid username {name!r}: use 1-40 lowercase letters, digits, "
                        "'.', '-' and '_', starting with a letter", code="invalid_username")
    return name


def validate_expiry_days(days: object) -> int | None:
    """``days`` (None: never expires) if it is a whole number of days from 1 to 3650.

    Raises UserError(invalid_expiry).
    """
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or \
            not 1 <= days <= MAX_EXPIRY_DAYS:
        raise UserError(f"invalid expiry {days!r}: give a whole number of days from 1 to "
                        f"{MAX_EXPIRY_DAYS}", code="invalid_expiry")
    return days


# --- tokens --------------------------------------------------------------------------------


def _new_key() -> tuple[str, str]:
    key = secrets.token_urlsafe(32)
    return key, ApiToken.hash_key(key)


def issue_token(user, name: str | None = None,
                expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; return its record and the token, which is shown once:
    only its hash is stored.

    Without ``name`` the token gets a generated one (for tools and tests). Raises
    UserError(invalid_token_name), UserError(invalid_expiry) or UserError(token_name_taken).
    """
    name = validate_token_name(name) if name is not None else f"token-{secrets.token_hex(4)}"
    days = validate_expiry_days(expires_in_days)
    key, key_hash = _new_key()
    expires_at = timezone.now() + timedelta(days=days) if days else None
    try:
        with transaction.atomic():
            record = ApiToken.objects.create(user=user, name=name, key_hash=key_hash,
                                             prefix=key[:8], expires_at=expires_at)
    except IntegrityError:
        raise UserError(f"{user.get_username()} already has a token named {name!r}",
                        code="token_name_taken") from None
    return record, key


def create_token(user, name: str | None = None, expires_in_days: int | None = None) -> str:
    """A new API token for ``user`` (see issue_token, whose errors it raises)."""
    return issue_token(user, name, expires_in_days)[1]


def create_token_for(by, username: str | None, name: str,
                     expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A token for ``username`` (``by`` themselves when None), as issue_token returns it.

    Raises Forbidden unless ``by`` is that user or a superuser, NotFound for an unknown user,
    and issue_token's errors.
    """
    return issue_token(_subject(by, username), name, expires_in_days)


def _subject(by, username: str | None):
    """The user whose tokens ``by`` is asking about: themselves, or anyone for a superuser."""
    if username is None or username == by.get_username():
        return by
    if not by.is_superuser:
        raise Forbidden("only a superuser may manage other users' tokens")
    return get_user(username)


def list_tokens(by, username: str | None = None) -> list[ApiToken]:
    """The tokens of ``username`` (default: ``by``'s own), newest first; never their keys.

    Raises Forbidden unless ``by`` is that user or a superuser, NotFound for an unknown user.
    """
    return list(ApiToken.objects.filter(user=_subject(by, username)).order_by("-created_at"))


def revoke_token(by, name_or_prefix: str, username: str | None = None) -> ApiToken:
    """Delete the token named (or with the prefix) ``name_or_prefix``; return what it was.

    A revoked token authenticates nothing from then on. Raises NotFound(token_not_found),
    and Forbidden/NotFound as list_tokens does.
    """
    user = _subject(by, username)
    tokens = ApiToken.objects.filter(user=user)
    token = tokens.filter(name=name_or_prefix).first()
    if token is None:
        matches = list(tokens.filter(prefix=name_or_prefix)[:2])
        token = matches[0] if len(matches) == 1 else None
    if token is None:
        raise NotFound(f"{user.get_username()} has no token {name_or_prefix!r}",
                       code="token_not_found")
    token.delete()
    return token


def authenticate_token(key: str, username: str | None = None):
    """Return the active user owning the unexpired token ``key`` (and named ``username`` if
    given), or None. Records when the token was last used."""
    if not key:
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash_key(key), user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if token is None:
        return None
    if username is not None and token.user.get_username() != username:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def login_with_password(username: str, password: str, address: str, token_name: str,
                        expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Exchange ``username`` and ``password`` for a new token named ``token_name``; return
    it as issue_token does. One of the user's tokens is accepted in place of the password.

    Raises Throttled (before the password is checked) once the username or ``address`` failed
    too often, UserError(invalid_credentials) for a wrong pair (counted as a failure), and
    issue_token's errors.
    """
    validate_token_name(token_name)
    validate_expiry_days(expires_in_days)
    throttle.check(username, address)
    user = authenticate(username=username, password=password) or \
        authenticate_token(password, username=username)
    if user is None:
        throttle.record_failure(username, address)
        raise UserError("wrong username or password", code="invalid_credentials")
    return issue_token(user, token_name, expires_in_days)


# --- users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    user: User
    password: str  # shown once; only Django's hash of it is stored


def _require_superuser(by, what: str) -> None:
    if not by.is_superuser:
        raise Forbidden(f"only a superuser may {what}")


def get_user(username: str):
    """The user named ``username``. Raises NotFound(user_not_found)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"no user {username!r}", code="user_not_found")
    return user


def list_users(by) -> list:
    """Every user, by name. Raises Forbidden unless ``by`` is a superuser."""
    _require_superuser(by, "list users")
    return list(get_user_model().objects.order_by("username"))


def create_user(by, username: str, email: str = "") -> NewUser:
    """Create the plain (not staff) user ``username`` with a random one-time password.

    Raises Forbidden unless ``by`` is a superuser, UserError(invalid_username) or
    UserError(user_exists).
    """
    _require_superuser(by, "create users")
    validate_username(username)
    password = secrets.token_urlsafe(12)
    User = get_user_model()
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
    except IntegrityError:
        raise UserError(f"user {username!r} already exists", code="user_exists") from None
    return NewUser(user, password)


def set_user_active(by, username: str, active: bool):
    """Deactivate (or reactivate) ``username``: an inactive user's tokens and sessions
    authenticate nothing. Raises Forbidden unless ``by`` is a superuser (and not deactivating
    themselves), NotFound for an unknown user."""
    _require_superuser(by, "deactivate users")
    user = get_user(username)
    if not active and user.pk == by.pk:
        raise Forbidden("you cannot deactivate yourself")
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user


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
