"""Giving build steps the CA bundle they need behind a TLS-inspecting proxy, and nothing more.

Every ``RUN`` step of a Dockerfile is rewritten to mount the bundle as a BuildKit secret and to
point the usual tools at it through their environment variables. A secret mount exists only
while its step runs: the bundle is in no layer of the final image, and the variables are not
in its config, so at run time the app trusts exactly what its base image trusts.
"""

import json
import re

SECRET_ID = "paas_build_ca"
MOUNT_TARGET = "/run/paas/build-ca.crt"
MOUNT_FLAG = f"--mount=type=secret,id={SECRET_ID},target={MOUNT_TARGET},mode=0444"

# The variables that common tools read for extra or replacement CA certificates.
CA_ENV_VARS = (
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
    "NPM_CONFIG_CAFILE",
)

_INSTRUCTION_RE = re.compile(r"^(\s*)(RUN)(\s+)(.*)$", re.IGNORECASE | re.DOTALL)
_FLAG_RE = re.compile(r"^(--[a-z-]+(?:=\S*)?\s+)", re.IGNORECASE)


def ca_env_assignments() -> list[str]:
    return [f"{name}={MOUNT_TARGET}" for name in CA_ENV_VARS]


def _logical_lines(text: str) -> list[str]:
    """Split a Dockerfile into instructions, each keeping its own backslash continuations."""
    instructions: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if current and (not stripped or stripped.startswith("#")):
            # Docker skips blank and comment lines inside a continued instruction.
            current.append(line)
            continue
        current.append(line)
        if not line.rstrip("\r\n").endswith("\\"):
            instructions.append("".join(current))
            current = []
    if current:
        instructions.append("".join(current))
    return instructions


def _rewrite_run(instruction: str) -> str:
    match = _INSTRUCTION_RE.match(instruction)
    if not match:
        return instruction
    indent, keyword, space, rest = match.groups()
    flags = ""
    while flag := _FLAG_RE.match(rest):
        flags += flag.group(1)
        rest = rest[flag.end():]
    trailing_newline = "\n" if rest.endswith("\n") else ""
    body = rest.rstrip("\r\n")
    exec_form = _parse_exec_form(body)
    if exec_form is not None:
        command = json.dumps(["env", *ca_env_assignments(), *exec_form])
    else:
        exports = " ".join(ca_env_assignments())
        command = f"export {exports}; {body}"
    return f"{indent}{keyword}{space}{MOUNT_FLAG} {flags}{command}{trailing_newline}"


def _parse_exec_form(body: str) -> list[str] | None:
    candidate = re.sub(r"\\\r?\n", "", body).strip()
    if not candidate.startswith("["):
        return None
    try:
        value = json.loads(candidate)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def hide_build_ca(line: str) -> str:
    """``line`` of build output without the CA plumbing ``add_build_ca`` put into RUN steps,
    so users see their own commands."""
    exports = f"export {' '.join(ca_env_assignments())}; "
    env_prefix = " ".join(["env", *ca_env_assignments()]) + " "
    return line.replace(f"{MOUNT_FLAG} ", "").replace(exports, "").replace(env_prefix, "")


def add_build_ca(dockerfile_text: str) -> str:
    """Return the Dockerfile with every RUN step given the build CA bundle."""
    return "".join(_rewrite_run(instruction) for instruction in _logical_lines(dockerfile_text))
