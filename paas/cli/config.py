"""Where the CLI keeps the control-plane URL and the user's token."""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


class NotLoggedIn(Exception):
    pass


@dataclass
class Credentials:
    url: str
    username: str
    token: str


def config_path(environ: dict[str, str]) -> Path:
    """``PAAS_CONFIG`` if set, else ``$XDG_CONFIG_HOME/paas/config.json`` (~/.config)."""
    if environ.get("PAAS_CONFIG"):
        return Path(environ["PAAS_CONFIG"])
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "paas" / "config.json"


def load(path: Path) -> Credentials:
    """The saved credentials. Raises NotLoggedIn if there are none or they are unreadable."""
    try:
        data = json.loads(path.read_text())
        return Credentials(url=data["url"], username=data["username"], token=data["token"])
    except (OSError, ValueError, KeyError, TypeError):
        raise NotLoggedIn("not logged in: run `paas login`") from None


def save(path: Path, credentials: Credentials) -> None:
    """Write the credentials readable by the user only: the token is a password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as config_file:
        json.dump(asdict(credentials), config_file, indent=2)
    path.chmod(0o600)
