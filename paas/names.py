"""Validation of the names users give: app names, config keys, process types, hostnames.

A leaf module (it imports only ``paas.errors``): core, engines and entry points all use it.

Names are checked at every entry point and rejected with a clear message, never rewritten.
"""

import re

from paas.errors import UserError

APP_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
CONFIG_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
PROCESS_TYPE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,29}$")
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)


def validate_app_name(name: str) -> str:
    """Return ``name`` if it is a valid app name; raise UserError(invalid_app_name) otherwise."""
    if not APP_NAME_RE.fullmatch(name):
        raise UserError(
            f"invalid app name {name!r}: use 1-30 characters, lowercase letters, digits and "
            "dashes, starting with a letter",
            code="invalid_app_name",
        )
    return name


def validate_config_key(key: str) -> str:
    """Return ``key`` if it can be an environment variable name; raise UserError otherwise."""
    if not CONFIG_KEY_RE.fullmatch(key):
        raise UserError(
            f"invalid config key {key!r}: use letters, digits and underscores, "
            "not starting with a digit",
            code="invalid_config_key",
        )
    return key


def validate_process_type(name: str) -> str:
    """Return ``name`` if it is a valid Procfile process type; raise UserError otherwise."""
    if not PROCESS_TYPE_RE.fullmatch(name):
        raise UserError(
            f"invalid process type {name!r}: use lowercase letters, digits, '-' and '_'",
            code="invalid_process_type",
        )
    return name


def validate_hostname(hostname: str) -> str:
    """Return ``hostname`` if it is a valid DNS name; raise UserError otherwise."""
    if not HOSTNAME_RE.fullmatch(hostname):
        raise UserError(f"invalid domain {hostname!r}", code="invalid_domain")
    return hostname
