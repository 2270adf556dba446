"""A real paas stack for end-to-end tests: its own PAAS_HOME, ports and Redis, sharing dockerd.

``Stack.start()`` runs ``python -m paas.hostctl up`` exactly as ``make up`` does; tests push
with the real ``git`` client, change apps with the real ``paas`` CLI (``Stack.paas``), read what
a user could see from the JSON API (``Stack.api``) and talk HTTP to the real router.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
APPS_DIR = PROJECT_DIR / "tests" / "apps"
# The CLI as `make venv` installs it, beside the interpreter running the tests.
PAAS_CLI = Path(sys.executable).with_name("paas")
CLI_ERROR_RE = re.compile(r"paas: error: (?P<message>.*) \((?P<code>[a-z0-9_]+)\)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique_app_name(prefix: str) -> str:
    """App names unique per run, so parallel stacks on one dockerd never collide."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@dataclass
class HttpAnswer:
    status: int
    body: str
    headers: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    token: str


@dataclass
class Stack:
    home: Path
    control_port: int
    router_port: int
    redis_port: int
    router_tls_port: int = 0
    extra_env: dict = field(default_factory=dict)
    username: str = ""
    token: str = ""
    password: str = ""
    apps: set = field(default_factory=set)

    @classmethod
    def create(cls, **extra_env: str) -> "Stack":
        # Short path: supervisord's unix socket path must stay under 108 bytes.
        home = Path(tempfile.mkdtemp(prefix="paas-e2e-", dir="/tmp"))
        home.chmod(0o711)  # as make up leaves /var/lib/paas: Redis's own user gets in
        return cls(home=home, control_port=free_port(), router_port=free_port(),
                   redis_port=free_port(), router_tls_port=free_port(), extra_env=extra_env)

    @classmethod
    @contextmanager
    def running(cls, **extra_env: str) -> Iterator["Stack"]:
        """A stack started with ``extra_env`` for the ``with`` block, stopped after it."""
        stack = cls.create(**extra_env)
        try:
            yield stack.start()
        finally:
            stack.stop()

    @property
    def env(self) -> dict:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("PAAS_", "DJANGO_", "REDIS_URL", "DATABASE_URL"))}
        env.update({
            "PAAS_HOME": str(self.home),
            "PAAS_CONTROL_PORT": str(self.control_port),
            "PAAS_ROUTER_PORT": str(self.router_port),
            "PAAS_ROUTER_TLS_PORT": str(self.router_tls_port),
            "PAAS_BIND_ADDRESS": "127.0.0.1",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PAAS_DRAIN_SECONDS": "2",
            "PAAS_RECONCILE_INTERVAL": "10",
            "DJANGO_SETTINGS_MODULE": "paas.settings",
        })
        env.update(self.extra_env)
        return env

    def hostctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "paas.hostctl", *args], cwd=PROJECT_DIR,
                              env=self.env, capture_output=True, text=True, timeout=900)

    def start(self) -> "Stack":
        result = self.hostctl("up")
        if result.returncode != 0:
            raise RuntimeError(f"hostctl up failed:\n{result.stdout}\n{result.stderr}\n"
                               f"{self.logs()}")
        credentials = json.loads((self.home / "credentials.json").read_text())
        self.username = credentials["username"]
        self.token = credentials["token"]
        self.password = credentials["password"]
        login = self.paas("login", "--url", self.control_url, "--username", self.username,
                          f"--token={self.token}")
        if login.returncode != 0:
            raise RuntimeError(f"paas login failed:\n{login.stdout}\n{login.stderr}")
        return self

    def stop(self) -> None:
        self.hostctl("down", "--remove-apps")
        for app in self.apps:
            images = subprocess.run(["docker", "image", "ls", "--format",
                                     "{{.Repository}}:{{.Tag}}", f"paas/{app}"],
                                    capture_output=True, text=True).stdout.split()
            if images:
                subprocess.run(["docker", "image", "rm", "-f", *images], capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def logs(self) -> str:
        out = []
        for path in sorted((self.home / "logs").glob("*.log")):
            out.append(f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace")
                                                         .splitlines()[-40:]))
        return "\n".join(out)

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    # --- the CLI and the API, as a user drives them -----------------------------------------

    @property
    def cli_config(self) -> Path:
        """Where the admin's `paas login` is saved (in PAAS_HOME, removed with the stack)."""
        return self.home / "cli" / "config.json"

    def paas(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run the ``paas`` CLI as the stack's admin, as a terminal would; give ``-a APP``."""
        return run_cli(self.cli_config, *argv, stdin=stdin, cwd=self.home)

    @contextmanager
    def paas_following(self, *argv: str) -> Iterator[Iterator[str]]:
        """Start a ``paas`` command that keeps printing (``logs -f``); yield its stdout lines.

        The command is stopped on leaving. Like the other helpers here it gives up after 600 s
        (it is killed, so the lines end), rather than hanging the suite.
        """
        process = subprocess.Popen([str(PAAS_CLI), *argv], cwd=self.home,
                                   env=cli_env(self.cli_config), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        watchdog = threading.Timer(600, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            yield (line.rstrip("\n") for line in process.stdout)
        finally:
            watchdog.cancel()
            process.terminate()
            process.communicate()

    def api(self, method: str, path: str, body: dict | list | None = None,
            token: str | None = None) -> HttpAnswer:
        """Call the JSON API at ``/api<path>`` with the admin's token (or ``token``).

        Deploy actions answer only when they end (no ``Prefer: respond-async``), hence a
        timeout as long as the CLI's subprocess timeout rather than a page load's.
        """
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {token or self.token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return http_request(f"{self.control_url}/api{path}", method=method, data=data,
                            headers=headers, timeout=900)

    def create_user(self, username: str) -> "NewUser":
        """A plain (non-staff) user, made as an operator makes one: ``paas users:add`` (which
        prints a one-time password), then ``paas tokens:create --user`` (which prints a
        token), each alone on its last line."""
        added = self.paas("users:add", username)
        assert added.returncode == 0, added.stderr
        token = self.paas("tokens:create", "e2e", "--user", username)
        assert token.returncode == 0, token.stderr
        return NewUser(username, added.stdout.splitlines()[-1], token.stdout.splitlines()[-1])

    # --- git -----------------------------------------------------------------------------

    def remote(self, app: str, token: str | None = None, username: str | None = None) -> str:
        user = username or self.username
        return (f"http://{user}:{token or self.token}@127.0.0.1:{self.control_port}"
                f"/git/{app}.git")

    def checkout(self, sample: str, workdir: Path) -> Path:
        """A git work tree holding tests/apps/<sample>, committed on main."""
        repo = workdir / sample
        shutil.copytree(APPS_DIR / sample, repo)
        git(repo, "init", "-q", "-b", "main")
        commit_all(repo, f"{sample} initial")
        return repo

    def push(self, repo: Path, app: str, ref: str = "main", token: str | None = None,
             username: str | None = None) -> subprocess.CompletedProcess:
        self.apps.add(app)
        return subprocess.run(
            ["git", "push", self.remote(app, token, username), ref],
            cwd=repo, capture_output=True, text=True, timeout=1200,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )

    def start_push(self, repo: Path, app: str) -> Callable[[], subprocess.CompletedProcess]:
        """Start ``push`` in the background; the returned function waits for its result."""
        result: dict = {}
        thread = threading.Thread(target=lambda: result.setdefault("push", self.push(repo, app)))
        thread.start()

        def wait() -> subprocess.CompletedProcess:
            thread.join(timeout=1200)
            return result["push"]

        return wait

    def wait_for_build(self, app: str, attempts: int = 300) -> bool:
        """Poll (bounded) until a build of ``app`` holds its push lock."""
        for _ in range(attempts):
            if self.build_running(app):
                return True
            time.sleep(0.1)
        return False

    def server_ref(self, app: str, branch: str = "main") -> str | None:
        """The commit the server's branch points at, read straight from its repository."""
        result = subprocess.run(
            ["git", "--git-dir", str(self.home / "repos" / f"{app}.git"), "rev-parse",
             "--verify", "--quiet", f"refs/heads/{branch}"],
            capture_output=True, text=True)
        return result.stdout.strip() or None

    def build_running(self, app: str) -> bool:
        """Whether a build of ``app`` holds its push lock right now (read from Redis)."""
        return self.redis_cli("exists", f"paas:app:{app}:push").stdout.strip() == "1"

    def supervisorctl(self, *args: str) -> subprocess.CompletedProcess:
        """``supervisorctl`` of the stack's supervisord (start, stop, pid a program)."""
        return subprocess.run(
            [str(Path(sys.executable).parent / "supervisorctl"),
             "-c", str(self.home / "run" / "supervisord.conf"), *args],
            capture_output=True, text=True, timeout=120)

    def kill_program(self, name: str) -> None:
        """SIGKILL a control-plane program and its children, as a crash or an OOM kill would
        (supervisord starts it again)."""
        pid = int(self.supervisorctl("pid", name).stdout.strip())
        os.killpg(os.getpgid(pid), signal.SIGKILL)

    def redis_cli(self, *args: str) -> subprocess.CompletedProcess:
        """``redis-cli`` against the stack's Redis, with the password paas generated for it
        (passed in the environment, not on the command line)."""
        password = (self.home / "redis_password").read_text().strip()
        return subprocess.run(["redis-cli", "-p", str(self.redis_port), *args],
                              capture_output=True, text=True,
                              env={**os.environ, "REDISCLI_AUTH": password})

    # --- http ----------------------------------------------------------------------------

    def get(self, app: str, path: str = "/", timeout: float = 10) -> HttpAnswer:
        """GET through the router with Host: <app>.localhost."""
        return http_get(f"http://127.0.0.1:{self.router_port}{path}",
                        host=f"{app}.localhost", timeout=timeout)

    def wait_for_answer(self, app: str, expected: str, attempts: int = 60) -> HttpAnswer:
        """Poll the router until the app's body contains ``expected`` (bounded attempts)."""
        answer = HttpAnswer(0, "")
        for _ in range(attempts):
            answer = self.get(app)
            if answer.status == 200 and expected in answer.body:
                return answer
            time.sleep(1)
        return answer


def cli_env(config: Path) -> dict:
    return {**os.environ, "PAAS_CONFIG": str(config)}


def run_cli(config: Path, *argv: str, stdin: str | None = None, cwd: Path | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the installed ``paas`` CLI with the login saved at ``config``.

    Without ``stdin`` a prompt reads end-of-file (and the command fails), never the suite's
    own terminal.
    """
    stdin_kwargs = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run([str(PAAS_CLI), *argv], cwd=cwd, env=cli_env(config),
                          capture_output=True, text=True, timeout=timeout, **stdin_kwargs)


def cli_error(result: subprocess.CompletedProcess) -> tuple[str, str]:
    """(message, code) of the one-line error a failed ``paas`` command ends with."""
    last = result.stderr.splitlines()[-1] if result.stderr else ""
    found = CLI_ERROR_RE.fullmatch(last)
    assert result.returncode == 1 and found, (result.returncode, result.stderr)
    return found["message"], found["code"]


def http_get(url: str, host: str | None = None, timeout: float = 10,
             headers: dict | None = None) -> HttpAnswer:
    return http_request(url, headers={**({"Host": host} if host else {}), **(headers or {})},
                        timeout=timeout)


def http_request(url: str, method: str = "GET", data: bytes | None = None,
                 headers: dict | None = None, timeout: float = 10) -> HttpAnswer:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, response.read().decode("utf-8", "replace"),
                              dict(response.headers))
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, error.read().decode("utf-8", "replace"),
                          dict(error.headers))
    except OSError as error:
        return HttpAnswer(0, str(error))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def add_slow_step(repo: Path, marker: str, seconds: int) -> str:
    """Commit a Dockerfile step that takes ``seconds`` (unique, so no cache skips it)."""
    dockerfile = repo / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f"RUN echo {marker} && sleep {seconds}\n")
    return commit_all(repo, "a slow build step")


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=paas tests", "-c", "user.email=tests@paas.invalid",
        "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")
