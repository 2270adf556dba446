"""What a user's Dockerfile may name, checked before it is built.

Every app builds on one dockerd, whose image store and BuildKit cache every build can reach. So a
Dockerfile is refused, with a stable code and before anything is built, when it:

- names another app's image: ``FROM``, ``COPY --from`` and ``RUN --mount=...,from=`` may use any
  public image, earlier stages, ``paas/stack`` (the stack images, not the release tags of an app
  that happened to be called ``stack``) and this app's own ``paas/<app>`` images, and no other
  ``paas/...`` image under any registry (``dockerfile_foreign_image``); nor an image by id
  (``dockerfile_image_id``);
- takes a ``FROM`` image from a build ARG that does not resolve to a value here
  (``dockerfile_unresolved_image``; paas passes no ``--build-arg``, so a declared default is what
  BuildKit uses), or a ``--from``/``--mount`` value from a variable
  (``dockerfile_variable_source``);
- uses a BuildKit cache mount: with an explicit ``id=`` it could name another app's cache
  (``dockerfile_cache_id``); without one BuildKit keys it by its target path, shared by every
  build on the dockerd, so one tenant could plant files in another's ``/root/.cache/pip``
  (``dockerfile_cache_mount``). paas refuses rather than quietly rewriting the mount into a
  per-app one: the build would not do what the file says;
- asks for the host's network or an insecure sandbox (``RUN --network=host``,
  ``--security=insecure``; ``dockerfile_run_flag``): a build step on the host's network reaches
  the control plane on loopback;
- has a ``# syntax=`` directive (``dockerfile_syntax_directive``): BuildKit would pull and run that
  frontend image instead of its own Dockerfile frontend, and the frontend decides what is built.

``ONBUILD`` triggers are checked like instructions: they run when a later build of this app
starts ``FROM`` its own image. Not covered: the ONBUILD triggers of a public base image.
"""

import re
from typing import NoReturn

from paas.build.dockerfile_parse import (
    Instruction,
    Unresolved,
    expand_word,
    parse_dockerfile,
    parse_instruction,
)
from paas.errors import UserError

STACK_REPOSITORY = "paas/stack"
# An image reference, lower-cased: what remains after quotes, escapes and variables are gone.
_REFERENCE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$")
_IMAGE_ID_RE = re.compile(r"^(sha256:)?[0-9a-f]{12,64}$")
# The tags paas gives an app's images (paas.core.releases, paas.core.builds).
_APP_TAG_RE = re.compile(r"^(v\d+|build-\d+)$")
_SYNTAX_LINE_RE = re.compile(r"^\s*(#|//|/\*)\s*syntax\s*=", re.IGNORECASE | re.MULTILINE)
_WORD_RE = re.compile(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""")
ALLOWED_NETWORKS = ("default", "none")
_STAGE_NAME_RE = re.compile(r"^[a-z][a-z0-9._-]*$")


def check_dockerfile(text: str, app: str) -> None:
    """Refuse a Dockerfile for app ``app`` that names what is not its own (see the module).

    Raises UserError with one of the codes above, or dockerfile_invalid for a Dockerfile that
    cannot be read safely.
    """
    if match := _SYNTAX_LINE_RE.search(text):
        line = text.count("\n", 0, match.start()) + 1
        _refuse(line, "has a syntax directive: paas builds with BuildKit's own Dockerfile "
                "frontend and does not pull another; remove the line",
                "dockerfile_syntax_directive")
    dockerfile = parse_dockerfile(text)
    global_args: dict[str, str | None] = {}
    stages: list[str] = []
    for instruction in dockerfile.instructions:
        keyword = instruction.keyword
        if keyword == "ARG" and not stages:
            _declare_args(instruction, global_args, dockerfile.escape)
        elif keyword == "FROM":
            stages.append(_check_from(instruction, app, global_args, stages, dockerfile.escape))
        elif keyword == "ONBUILD":
            trigger = parse_instruction(instruction.arguments, instruction.line)
            if trigger is not None:
                _check_step(trigger, app, stages=[], what="ONBUILD ")
        else:
            _check_step(instruction, app, stages, what="")


def _declare_args(instruction: Instruction, args: dict[str, str | None], escape: str) -> None:
    for word in _WORD_RE.findall(instruction.arguments):
        name, equals, default = word.partition("=")
        if not equals:
            args[name] = args.get(name)
            continue
        try:
            args[name] = expand_word(default, args, escape)
        except Unresolved:
            args[name] = None


def _check_from(instruction: Instruction, app: str, args: dict[str, str | None],
                stages: list[str], escape: str) -> str:
    """Check a FROM; return the stage's name (lower case; "" when it has none)."""
    words = instruction.arguments.split()
    if len(words) == 3 and words[1].lower() == "as":
        name = words[2].lower()
        if not _STAGE_NAME_RE.fullmatch(name):
            # BuildKit refuses such names too; a stage called "paas/other:v1" must never make
            # --from=paas/other:v1 look like a stage here.
            _refuse(instruction.line, f"FROM ... AS {words[2]}: a stage name is a letter, then "
                    "letters, digits, '-', '_' and '.'", "dockerfile_invalid")
    elif len(words) == 1:
        name = ""
    else:
        _refuse(instruction.line, f"FROM {instruction.arguments!r} is not an image with an "
                "optional AS name", "dockerfile_invalid")
    try:
        image = expand_word(words[0], args, escape)
    except Unresolved as error:
        _refuse(instruction.line, f"FROM {words[0]}: {error} has no value paas can check "
                "(paas passes no build args: give the ARG a default before the first FROM)",
                "dockerfile_unresolved_image")
    if not image or image.lower() not in stages:
        _check_image(image, app, instruction.line, f"FROM {words[0]}")
    return name


def _check_step(instruction: Instruction, app: str, stages: list[str], what: str) -> None:
    keyword = instruction.keyword
    line = instruction.line
    if keyword in ("COPY", "ADD"):
        for source in instruction.flag_values("from"):
            _check_source(source, app, stages, line, f"{what}{keyword} --from={source}")
    if keyword != "RUN":
        return
    for network in instruction.flag_values("network"):
        if network.lower() not in ALLOWED_NETWORKS:
            _refuse(line, f"{what}RUN --network={network}: build steps get the build network "
                    "or none", "dockerfile_run_flag")
    for security in instruction.flag_values("security"):
        if security.lower() != "sandbox":
            _refuse(line, f"{what}RUN --security={security}: build steps run sandboxed",
                    "dockerfile_run_flag")
    for mount in instruction.flag_values("mount"):
        _check_mount(mount, app, stages, line, what)


def _check_mount(mount: str, app: str, stages: list[str], line: int, what: str) -> None:
    shown = f"{what}RUN --mount={mount}"
    if "$" in mount:
        _refuse(line, f"{shown}: paas does not expand variables in a mount",
                "dockerfile_variable_source")
    # Quotes dropped and every comma a separator: stricter than BuildKit's CSV reading, never
    # laxer (a quoted "a,type=cache" counts as a cache mount here).
    options: dict[str, list[str]] = {}
    for field in mount.replace('"', "").replace("'", "").split(","):
        key, _, value = field.partition("=")
        options.setdefault(key.strip().lower(), []).append(value.strip())
    types = [value.lower() for value in options.get("type", ["bind"])]
    if "cache" in types:
        if "id" in options:
            _refuse(line, f"{shown}: a Dockerfile may not name a cache id (cache ids are "
                    "shared by every build on this Docker engine)", "dockerfile_cache_id")
        _refuse(line, f"{shown}: cache mounts are shared by every app on this Docker engine "
                "(BuildKit names them by their target path), so paas does not allow them in a "
                "Dockerfile; remove the mount", "dockerfile_cache_mount")
    for source in options.get("from", []):
        _check_source(source, app, stages, line, shown)


def _check_source(source: str, app: str, stages: list[str], line: int, shown: str) -> None:
    """A ``--from``/``from=`` value: an earlier stage by name or number, or an image."""
    if "$" in source:
        _refuse(line, f"{shown}: paas does not expand variables in --from; name the stage or "
                "image", "dockerfile_variable_source")
    lowered = source.lower()
    if (lowered and lowered in stages) or (lowered.isdigit() and int(lowered) < len(stages)):
        return
    _check_image(source, app, line, shown)


def _check_image(image: str, app: str, line: int, shown: str) -> None:
    lowered = image.lower()
    if lowered == "scratch":
        return
    if not _REFERENCE_RE.fullmatch(lowered):
        _refuse(line, f"{shown}: {image!r} is not an image reference", "dockerfile_invalid")
    name, _, digest = lowered.partition("@")
    if _IMAGE_ID_RE.fullmatch(name) or name.startswith("sha256:"):
        _refuse(line, f"{shown}: name an image by repository and tag, not by id",
                "dockerfile_image_id")
    repository, tag = name, ""
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
    parts = repository.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry: paas/<app> is another app's image under any of them
    if not parts or parts[0] != "paas":
        return
    repository = "/".join(parts)
    own = f"paas/{app}"
    if repository == own:
        return
    if repository == STACK_REPOSITORY and not digest and not _APP_TAG_RE.fullmatch(tag):
        return
    _refuse(line, f"{shown}: {image} is not this app's image; a Dockerfile may build on public "
            f"images, {STACK_REPOSITORY}:<stack> and {own}:<tag>", "dockerfile_foreign_image")


def _refuse(line: int, problem: str, code: str) -> NoReturn:
    raise UserError(f"Dockerfile line {line}: {problem}", code=code)
