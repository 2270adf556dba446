"""C git's smart HTTP server for the git push baseline: ``git http-backend`` run by Debian's
``fcgiwrap`` behind an nginx of its own, on loopback ports, as git's own documentation sets it up.

The server asks for HTTP basic auth, as paas's receiver does (nginx's ``{PLAIN}`` password file:
the check costs nothing measurable, the extra round trip is the same on both sides).
"""

import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench.measure import BenchError
from tests.e2e.stack import free_port

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
user root;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    fastcgi_temp_path {root}/fastcgi;
    proxy_temp_path {root}/proxy;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location ~ ^/git(/.*)$ {{
            auth_basic "git";
            auth_basic_user_file {root}/htpasswd;
            include /etc/nginx/fastcgi_params;
            fastcgi_pass 127.0.0.1:{fcgi_port};
            fastcgi_param SCRIPT_FILENAME {backend};
            fastcgi_param GIT_PROJECT_ROOT {root}/repos;
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $1;
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_buffering off;
            fastcgi_read_timeout 600s;
        }}
    }}
}}
"""


class GitHttpServer:
    """nginx + fcgiwrap + ``git http-backend`` serving bare repositories under ``root/repos``.

    A context manager: entering starts both processes (each in a session of its own), leaving
    stops exactly those two process groups and removes the directory.
    """

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="paas-bench-cgit-")
        self.root = Path(self._tmp.name)
        self.port = free_port()
        self.user, self.password = "bench", secrets.token_hex(8)
        self._processes: list[subprocess.Popen] = []

    def __enter__(self) -> "GitHttpServer":
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        (self.root / "repos").mkdir()
        (self.root / "htpasswd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        fcgi_port = free_port()
        (self.root / "nginx.conf").write_text(NGINX_CONF.format(
            root=self.root, port=self.port, fcgi_port=fcgi_port, backend=HTTP_BACKEND))
        self._spawn(["fcgiwrap", "-c", "2", "-s", f"tcp:127.0.0.1:{fcgi_port}"])
        self._spawn(["nginx", "-p", str(self.root), "-c", str(self.root / "nginx.conf")])
        for port in (fcgi_port, self.port):
            _wait_for_port(port)

    def _spawn(self, argv: list[str]) -> None:
        log = (self.root / f"{Path(argv[0]).name}.log").open("w")
        self._processes.append(subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))

    def __exit__(self, *exc) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # its own session: fcgiwrap's children
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._processes.clear()
        self._tmp.cleanup()

    def new_repository(self, name: str) -> str:
        """A fresh bare repository that accepts pushes; its push URL (with the credentials)."""
        path = self.root / "repos" / f"{name}.git"
        for argv in (["git", "init", "--quiet", "--bare", str(path)],
                     ["git", "--git-dir", str(path), "config", "http.receivepack", "true"]):
            subprocess.run(argv, check=True, capture_output=True)
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}/git/{name}.git"

    def ref(self, name: str, branch: str) -> str | None:
        """The commit ``branch`` of repository ``name`` points at, if any."""
        result = subprocess.run(
            ["git", "--git-dir", str(self.root / "repos" / f"{name}.git"), "rev-parse",
             "--verify", "--quiet", f"refs/heads/{branch}"], capture_output=True, text=True)
        return result.stdout.strip() or None


def _wait_for_port(port: int, limit: float = 10) -> None:
    """Raises BenchError if nothing listens on the loopback ``port`` within ``limit`` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise BenchError(f"the git http-backend server did not listen on port {port}")
