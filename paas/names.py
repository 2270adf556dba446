"""Validation of what users give: app names, git refs, config keys and values, process types,
hostnames.

A leaf module (it imports only ``paas.errors``): core, engines and entry points all use it.

Names are checked at every entry point and rejected with a clear message, never rewritten.
"""

import re

from paas.errors import UserError

APP_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
CONFIG_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
PROCESS_TYPE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,29}$")
# RFC 1123 labels (letters, digits, inner dashes, 1-63 characters), at least two of them,
# 253 characters in all. Lowercase only: a name is refused, never folded into another one.
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)

# Only branches and tags may be pushed: refs/notes, refs/remotes or refs/paas/... would be
# state nobody asked the platform to keep.
PUSHABLE_REF_PREFIXES = ("refs/heads/", "refs/tags/")
MAX_REF_BYTES = 255
# What git's check-ref-format refuses anywhere in a ref, besides control characters and space.
BAD_REF_CHARACTERS = frozenset("~^:?*[\\")

# Config values reach the containers' environment verbatim. Newlines are allowed (PEM keys and
# certificates live in environment variables); NUL is not, since no environment can hold it.
# The caps keep a value far below Linux's 128 KiB per environment string, and the whole
# environment below the 2 MiB that exec allows for arguments and environment together.
MAX_CONFIG_VALUE_BYTES = 32 * 1024
MAX_CONFIG_BYTES = 256 * 1024


# An app's images are paas/<app>:vN. These repositories are paas's own (the stack images
# every build starts from, the control plane's image), so no app may be called so.
RESERVED_APP_NAMES = frozenset({"stack", "stack-base", "controlplane"})


def validate_app_name(name: str) -> str:
    """Return ``name`` if it is a valid app name; raise UserError(invalid_app_name) otherwise,
    also for the names paas keeps for its own images."""
    if not isinstance(name, str) or not APP_NAME_RE.fullmatch(name):
        raise UserError(
            f"invalid app name {name!r}: use 1-30 characters, lowercase letters, digits and "
            "dashes, starting with a letter",
            code="invalid_app_name",
        )
    if name in RESERVED_APP_NAMES:
        raise UserError(f"invalid app name {name!r}: paas keeps it for its own images "
                        f"(paas/{name})", code="invalid_app_name")
    return name


def validate_ref_name(ref: bytes | str) -> str:
    """Return ``ref`` as text if a push may create or move it; raise UserError otherwise.

    The rules are git's (``git check-ref-format``): no ``..``, no ``@{``, no control
    character, space or any of ``~^:?*[\\``; no component starting with ``.`` or ending with
    ``.lock``; no empty component, no trailing ``/`` or ``.``. paas adds: only
    ``refs/heads/...`` and ``refs/tags/...``, at most 255 bytes of UTF-8, and no component
    starting with ``-``, which a git command would read as an option.
    Raises UserError(invalid_ref_name).
    """
    raw = ref if isinstance(ref, bytes) else ref.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "backslashreplace")
    problem = _ref_problem(raw, text)
    if problem:
        raise UserError(f"invalid ref name {text!r}: {problem}", code="invalid_ref_name")
    return text


def _ref_problem(raw: bytes, text: str) -> str | None:
    if len(raw) > MAX_REF_BYTES:
        return f"longer than {MAX_REF_BYTES} bytes"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if not text.startswith(PUSHABLE_REF_PREFIXES) or text in PUSHABLE_REF_PREFIXES:
        return "only branches (refs/heads/...) and tags (refs/tags/...) can be pushed"
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c == " " for c in text):
        return "control characters and spaces are not allowed"
    if bad := sorted(BAD_REF_CHARACTERS.intersection(text)):
        return f"{''.join(bad)!r} is not allowed in a ref"
    if ".." in text or "@{" in text or text.endswith((".", "/")):
        return "'..', '@{' and a trailing '.' or '/' are not allowed"
    for component in text.split("/"):
        if not component:
            return "empty path component ('//')"
        if component.startswith("."):
            return "a component may not start with '.'"
        if component.endswith(".lock"):
            return "a component may not end with '.lock'"
        if component.startswith("-"):
            return "a component may not start with '-' (it would read as an option)"
    return None


def validate_config_key(key: str) -> str:
    """Return ``key`` if it can be an environment variable name; raise UserError otherwise."""
    if not isinstance(key, str) or not CONFIG_KEY_RE.fullmatch(key):
        raise UserError(
            f"invalid config key {key!r}: use letters, digits and underscores, "
            "not starting with a digit",
            code="invalid_config_key",
        )
    return key


def validate_config_value(key: str, value: object) -> str:
    """Return ``value`` if it can be the value of config var ``key``; raise UserError otherwise.

    A value is text, kept verbatim: ``$(...)``, backticks and ``${X}`` are never expanded,
    newlines are allowed, NUL is not, and it is at most MAX_CONFIG_VALUE_BYTES of UTF-8.
    Raises UserError(invalid_config_value).
    """
    if not isinstance(value, str):
        raise UserError(f"config var {key}: the value must be text, got {type(value).__name__}",
                        code="invalid_config_value")
    if "\x00" in value:
        raise UserError(f"config var {key}: the value may not contain a NUL character",
                        code="invalid_config_value")
    size = _utf8_size(value)
    if size > MAX_CONFIG_VALUE_BYTES:
        raise UserError(f"config var {key}: the value is {size} bytes, more than the "
                        f"{MAX_CONFIG_VALUE_BYTES} allowed", code="invalid_config_value")
    return value


def validate_config_size(config: dict[str, str]) -> None:
    """Raise UserError(config_too_large) if ``config``'s keys and values together (as
    ``KEY=value`` strings) pass MAX_CONFIG_BYTES of UTF-8."""
    size = sum(_utf8_size(key) + _utf8_size(value) + 2 for key, value in config.items())
    if size > MAX_CONFIG_BYTES:
        raise UserError(f"the app's config would be {size} bytes, more than the "
                        f"{MAX_CONFIG_BYTES} allowed", code="config_too_large")


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def validate_process_type(name: str) -> str:
    """Return ``name`` if it is a valid Procfile process type; raise UserError otherwise."""
    if not isinstance(name, str) or not PROCESS_TYPE_RE.fullmatch(name):
        raise UserError(
            f"invalid process type {name!r}: use lowercase letters, digits, '-' and '_'",
            code="invalid_process_type",
        )
    return name


def validate_hostname(hostname: str) -> str:
    """Return ``hostname`` if it is a DNS name paas can route; raise UserError otherwise.

    Lowercase RFC 1123 labels of 1-63 characters, at least two of them, 253 characters in
    all; no trailing dot, no wildcard, and no IP address (the last label is not all digits).
    Raises UserError(invalid_domain).
    """
    if not isinstance(hostname, str) or not HOSTNAME_RE.fullmatch(hostname):
        raise UserError(
            f"invalid domain {hostname!r}: use lowercase letters, digits, dashes and dots, "
            "like www.example.com (no trailing dot, no wildcard)",
            code="invalid_domain")
    if hostname.rpartition(".")[2].isdigit():
        raise UserError(f"invalid domain {hostname!r}: an IP address is not a domain",
                        code="invalid_domain")
    return hostname


# Memory sizes, as Docker takes them: a whole number with k, m or g.
MEMORY_RE = re.compile(r"^([1-9][0-9]{0,6})([kmg])$")
MEMORY_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}
# Docker refuses memory limits under 6 MiB; anything that small cannot run a process anyway.
MIN_MEMORY_BYTES = 6 * 1024 * 1024


def memory_size(value: str) -> str | None:
    """``value`` (like ``256m``, ``1G``) lowercased if it is a usable memory size, at least
    MIN_MEMORY_BYTES; None otherwise. Callers say what the size was for."""
    size = value.strip().lower()
    if not MEMORY_RE.fullmatch(size) or memory_bytes(size) < MIN_MEMORY_BYTES:
        return None
    return size


def memory_bytes(size: str) -> int:
    """A size that ``memory_size`` accepted, in bytes: ``512m`` -> 536870912."""
    return int(size[:-1]) * MEMORY_UNITS[size[-1].lower()]
