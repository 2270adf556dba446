"""Procfile parsing: ``<process type>: <command>`` lines; comments and blank lines ignored."""

import re

from paas.errors import UserError
from paas.names import PROCESS_TYPE_RE

LINE_RE = re.compile(r"^([^:\s]+)\s*:\s*(.*)$")


def parse_procfile(text: str) -> dict[str, str]:
    """Return {process type: command}. Raises UserError(invalid_procfile) on a bad line."""
    processes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE_RE.match(line)
        if not match:
            raise UserError(f"Procfile line {number}: expected '<type>: <command>', got {raw!r}",
                            code="invalid_procfile")
        name, command = match.group(1), match.group(2).strip()
        if not PROCESS_TYPE_RE.fullmatch(name):
            raise UserError(f"Procfile line {number}: invalid process type {name!r}",
                            code="invalid_procfile")
        if not command:
            raise UserError(f"Procfile line {number}: process type {name!r} has no command",
                            code="invalid_procfile")
        if name in processes:
            raise UserError(f"Procfile line {number}: process type {name!r} appears twice",
                            code="invalid_procfile")
        processes[name] = command
    return processes
