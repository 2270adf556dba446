import io
from dataclasses import dataclass

import pytest

from paas.cli.main import main
from paas.core.accounts import create_token
from paas.core.applications import create_app


@dataclass
class Result:
    code: int
    out: str
    err: str


class Terminal:
    """Runs `paas` commands in-process against the live test server, as one user."""

    def __init__(self, config_path, answers=None) -> None:
        self.environ = {"PAAS_CONFIG": str(config_path), "HOME": str(config_path.parent)}
        self.answers = list(answers or [])

    def __call__(self, *argv: str, answers: list[str] | None = None,
                 stdin: str = "") -> Result:
        pending = list(answers or [])
        out, err = io.StringIO(), io.StringIO()

        def prompt(_text: str) -> str:
            if not pending:
                raise EOFError
            return pending.pop(0)

        code = main(list(argv), environ=self.environ, out=out, err=err, prompt=prompt,
                    secret_prompt=prompt, stdin=io.StringIO(stdin))
        return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def terminal(tmp_path, live_server, transactional_db):
    """A function logging each role in on its own terminal (own config file)."""

    def for_user(user) -> Terminal:
        term = Terminal(tmp_path / user.username / "config.json")
        result = term("login", "--url", live_server.url, "--username", user.username,
                      f"--token={create_token(user)}")
        assert result.code == 0, result.err
        return term

    return for_user


@pytest.fixture
def shop(users, platform, transactional_db):
    """App "shop" for the live server: the owner's, the collaborator added, deployed."""
    app = create_app("shop", users.owner)
    app.collaborators.add(users.collaborator)
    platform.deploy(app)
    return app
