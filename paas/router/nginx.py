"""The router: nginx in front of every app, switched between releases without a reload.

Layout under ``<PAAS_HOME>``::

    nginx/nginx.conf      main config (written once by ``write_main_config``)
    nginx/apps/<app>.conf one server block per app: its hostnames and certificate, nothing
                          that a deploy changes
    nginx/apps/_control.conf  the control plane's hostname, when it is served through the router
    nginx/acme-challenge/ ACME HTTP-01 answers, one file per token, served on plain HTTP for
                          every host (``publish_challenge``)
    nginx/routes.txt      the route table (app -> upstreams), which nginx loads when it (re)starts
    nginx/staging/        where a candidate server block is checked with ``nginx -t``
    run/router/control.sock  nginx's control endpoint, through which the table changes live

A deploy, scale, rollback or config change moves an app to other upstreams (the addresses of
its new web containers): ``set_route`` writes
the table file, then pushes the route to nginx's shared dict through the control socket; the
next request uses it, and no connection is closed. Only a server-block change (a new app,
other hostnames, a certificate, a removed app) is validated against the whole configuration with
``nginx -t`` and then applied with a graceful reload.
"""

import fcntl
import hashlib
import http.client
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from paas.errors import PlatformError, UserError
from paas.names import validate_app_name, validate_hostname
from paas.procfs import PROC, children
from paas.router.nginx_config import (
    DEBIAN_MODULES_DIR,
    ControlSite,
    MainConfigPaths,
    TlsSite,
    render_app_server,
    render_control_server,
    render_main,
)
from paas.router.route_table import (
    MAX_SOCKET_PATH_BYTES,
    ControlClient,
    ControlUnreachable,
    Route,
    checked_upstreams,
    read_table,
    write_table,
)

logger = logging.getLogger(__name__)

# The control plane's server block, among the apps' (no app name starts with "_").
CONTROL_BLOCK = "_control"
# ACME tokens are base64url (RFC 8555 section 8.1), at least 128 bits of it.
CHALLENGE_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")
# A key authorization is "<token>.<base64url SHA-256 of the account key>".
KEY_AUTHORIZATION_RE = re.compile(r"[A-Za-z0-9_-]{16,256}\.[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class AppRoute:
    """Where requests for an app go: its hostnames and the upstreams (``ip:port``, see
    ``paas.router.route_table``) of its healthy web containers. No upstreams means the app is
    known but has nothing healthy to serve. With ``tls`` the names its certificate covers
    are served over HTTPS too, and redirected there from plain HTTP."""

    app: str
    hostnames: tuple[str, ...]
    upstreams: tuple[str, ...]
    tls: TlsSite | None = None


def accepting_workers(master_pid: int, proc: Path = PROC) -> set[int]:
    """Pids of the nginx master's workers that accept new connections.

    A worker told to stop closes its listening sockets and renames itself "worker process is
    shutting down"; one still called "worker process" accepts connections.
    """
    return {pid for pid, cmdline in children(master_pid, proc)
            if cmdline.rstrip(b"\0 ") == b"nginx: worker process"}


def is_app_name(name: str) -> bool:
    try:
        validate_app_name(name)
    except UserError:
        return False
    return True


def validate_route(route: AppRoute) -> None:
    """Raise UserError(invalid_app_name) or UserError(invalid_domain) for a name nginx's
    configuration cannot hold, and PlatformError(invalid_route) for bad upstreams."""
    validate_app_name(route.app)
    if not route.hostnames:
        raise PlatformError(f"no hostname to serve {route.app} at", code="invalid_route")
    for hostname in route.hostnames:
        validate_hostname(hostname)
    checked_upstreams(route.upstreams)
    if route.tls is not None:
        validate_tls(route.tls)


def validate_tls(tls: TlsSite) -> None:
    """Raise PlatformError(invalid_route) for certificate paths or names that nginx's
    configuration cannot hold as they are."""
    for path in (tls.certificate, tls.key):
        if not path.is_absolute() or not re.fullmatch(r"[A-Za-z0-9_./-]+", str(path)):
            raise PlatformError(f"invalid certificate path {str(path)!r} for the router",
                                code="invalid_route")
    for hostname in tls.hostnames:
        validate_hostname(hostname)


class Router:
    """The nginx router of one paas installation."""

    def __init__(self, nginx_dir: Path, log_dir: Path, run_dir: Path, port: int,
                 tls_port: int = 8443, nginx_binary: str = "/usr/sbin/nginx",
                 modules_dir: Path = DEBIAN_MODULES_DIR) -> None:
        self.nginx_dir = nginx_dir
        self.log_dir = log_dir
        self.run_dir = run_dir
        self.port = port
        self.tls_port = tls_port
        # Read by nginx's workers (not root): world-readable, as what it holds is public.
        self.challenge_dir = nginx_dir / "acme-challenge"
        self.nginx_binary = nginx_binary
        self.modules_dir = modules_dir
        self.apps_dir = nginx_dir / "apps"
        self.main_config = nginx_dir / "nginx.conf"
        self.routes_file = nginx_dir / "routes.txt"
        self.pid_file = run_dir / "nginx.pid"
        # Its own directory, mode 0700: nginx makes the socket 0666, so the directory is
        # what keeps other users out.
        self.control_dir = run_dir / "router"
        self.control_socket = self.control_dir / "control.sock"
        self.control = ControlClient(self.control_socket)

    def is_running(self) -> bool:
        """Whether nginx's master process (named by its pid file) is alive."""
        try:
            master = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return False
        try:
            os.kill(master, 0)
        except ProcessLookupError:
            return False  # a pid file left by an nginx that was killed
        except PermissionError:
            pass  # alive, run by another user
        return True

    # --- rendering ---------------------------------------------------------------------------

    def render_main(self, apps_dir: Path, pid_file: Path | None = None,
                    control_socket: Path | None = None) -> str:
        return render_main(MainConfigPaths(
            pid_file=pid_file or self.pid_file, log_dir=self.log_dir,
            tmp_dir=self.nginx_dir / "tmp", apps_dir=apps_dir, routes_file=self.routes_file,
            control_socket=control_socket or self.control_socket,
            challenge_dir=self.challenge_dir, modules_dir=self.modules_dir),
            self.port, self.tls_port)

    def render_app(self, route: AppRoute) -> str:
        """The server block of ``route``'s app: its hostnames and certificate (its upstreams
        are in the table)."""
        return render_app_server(route.app, route.hostnames, self.port, self.tls_port,
                                 self.challenge_dir, route.tls)

    def render_control(self, site: ControlSite) -> str:
        return render_control_server(site, self.port, self.tls_port, self.challenge_dir)

    @staticmethod
    def generation(route: AppRoute) -> str:
        return hashlib.sha256(repr(route).encode()).hexdigest()[:12]

    # --- applying ----------------------------------------------------------------------------

    def write_main_config(self) -> None:
        """Write nginx.conf and the directories it names (idempotent).

        Raises PlatformError(router_socket_path) when the control socket's path is too long
        for a UNIX socket (a deep PAAS_HOME).
        """
        if len(bytes(self.control_socket)) > MAX_SOCKET_PATH_BYTES:
            raise PlatformError(f"the router's control socket path {self.control_socket} is "
                                f"longer than {MAX_SOCKET_PATH_BYTES} bytes; use a shorter "
                                "PAAS_HOME", code="router_socket_path")
        for directory in (self.apps_dir, self.log_dir, self.run_dir, self.nginx_dir / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        self.challenge_dir.mkdir(mode=0o755, exist_ok=True)
        self.challenge_dir.chmod(0o755)
        self.control_dir.mkdir(mode=0o700, exist_ok=True)
        self.control_dir.chmod(0o700)  # also when an older one was made with other modes
        self.main_config.write_text(self.render_main(self.apps_dir))

    def set_route(self, route: AppRoute, settle_timeout: float = 15.0) -> None:
        """Serve ``route``: from the next request on, ``route.app``'s requests go to
        ``route.upstreams`` (a 503 if there are none).

        A change of upstreams only is written to the table file and pushed to nginx: no reload.
        A change of hostnames (or a new app) is validated with ``nginx -t``, applied with a
        reload, and this waits until nginx answers for the app with the new configuration.

        Raises UserError(invalid_app_name | invalid_domain) or PlatformError(invalid_route)
        for a route nginx cannot hold, PlatformError(router_invalid) if nginx rejects the new
        server block (the route nginx served before still serves, and the table file still
        says so), PlatformError(router_rejected) if nginx refuses the route, and
        PlatformError(router_reload_failed) if a needed reload fails.
        """
        validate_route(route)
        wanted = Route(self.generation(route), checked_upstreams(route.upstreams))
        with self._locked():
            block_changes = self._block_changes({route.app: self.render_app(route)})
            if block_changes:
                self._check(block_changes)
            table = read_table(self.routes_file)
            if table.get(route.app) != wanted:
                write_table(self.routes_file, {**table, route.app: wanted})
            try:
                live = self._push(route.app, wanted)
            except PlatformError:
                # A later nginx start must not load what nginx refused.
                write_table(self.routes_file, table)
                raise
            self._write_blocks(block_changes)
            reloaded = bool(block_changes) or not live
            if reloaded:
                self.reload()
        if reloaded and self.is_running():
            self.wait_until_serving(route, settle_timeout)

    def wait_until_serving(self, route: AppRoute, timeout: float) -> bool:
        """Poll the router until its answer for ``route`` carries the route's generation.

        A reload is asynchronous (nginx starts new workers after the signal); without this,
        a deploy of a new app could report success before nginx serves its hostnames.
        """
        expected = self.generation(route)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("HEAD", "/", headers={"Host": route.hostnames[0]})
                if connection.getresponse().getheader("X-Paas-Route") == expected:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            finally:
                connection.close()
            time.sleep(0.02)
        logger.warning("router did not pick up the new route of %s in %ss", route.app, timeout)
        return False

    def routed_upstreams(self, app: str) -> tuple[str, ...] | None:
        """The upstreams (``ip:port``) nginx sends ``app``'s requests to, or None if it has no
        route for the app. Asks nginx; when its control socket does not answer (nginx is down),
        reads the table file nginx loads when it starts.

        Raises PlatformError(router_rejected) if nginx answers unexpectedly.
        """
        try:
            live = self.control.get(app)
        except ControlUnreachable:
            pass
        else:
            return None if live is None else tuple(sorted(live.upstreams))
        route = read_table(self.routes_file).get(app)
        return None if route is None else tuple(sorted(route.upstreams))

    def remove_route(self, app: str) -> None:
        """Stop serving ``app``. Raises as ``remove_routes`` does."""
        self.remove_routes({app})

    def routed_apps(self) -> set[str]:
        """The apps that have a server block or a route in the table."""
        return ({path.stem for path in self.apps_dir.glob("*.conf")
                 if path.stem != CONTROL_BLOCK} | set(read_table(self.routes_file)))

    def set_control(self, site: ControlSite | None) -> None:
        """Serve the control plane at ``site.hostname`` (None: not through the router).

        Raises UserError(invalid_domain) for a hostname nginx cannot hold, and what
        ``apply`` raises.
        """
        if site is not None:
            validate_hostname(site.hostname)
            if site.tls is not None:
                validate_tls(site.tls)
        self.apply({CONTROL_BLOCK: None if site is None else self.render_control(site)})

    def certificate_files(self) -> set[Path]:
        """The certificate and key files the server blocks name (which must not go while
        they do: nginx would refuse its configuration)."""
        found = set()
        for block in self.apps_dir.glob("*.conf"):
            for line in block.read_text().splitlines():
                words = line.split()
                if len(words) == 2 and words[0] in ("ssl_certificate", "ssl_certificate_key"):
                    found.add(Path(words[1].rstrip(";")))
        return found

    # --- ACME HTTP-01 ------------------------------------------------------------------------

    def publish_challenge(self, token: str, key_authorization: str) -> None:
        """Answer ``GET /.well-known/acme-challenge/<token>`` on plain HTTP, for every host
        (apps' and unknown ones alike), with ``key_authorization``. No reload: nginx reads
        the file per request.

        Raises UserError(invalid_challenge) unless ``token`` is base64url and
        ``key_authorization`` is ``<token>.<thumbprint>``.
        """
        self._check_token(token)
        if (not isinstance(key_authorization, str)
                or not KEY_AUTHORIZATION_RE.fullmatch(key_authorization)
                or key_authorization.partition(".")[0] != token):
            raise UserError("an ACME key authorization is <token>.<base64url thumbprint>",
                            code="invalid_challenge")
        self.challenge_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        target = self.challenge_dir / token
        tmp = self.challenge_dir / f".{token}.tmp"
        tmp.write_text(key_authorization)
        tmp.chmod(0o644)
        tmp.replace(target)

    def withdraw_challenge(self, token: str) -> None:
        """Stop answering the challenge ``token`` (a no-op if it is not published). Raises
        UserError(invalid_challenge) for a token that is not base64url."""
        self._check_token(token)
        (self.challenge_dir / token).unlink(missing_ok=True)

    @staticmethod
    def _check_token(token: str) -> None:
        if not isinstance(token, str) or not CHALLENGE_TOKEN_RE.fullmatch(token):
            raise UserError("an ACME token is 16 to 256 base64url characters",
                            code="invalid_challenge")

    def remove_routes(self, apps: set[str]) -> None:
        """Stop routing ``apps``: their routes leave the table and their server blocks go,
        in one validated reload. Raises what ``apply`` raises, and PlatformError
        (router_rejected) if nginx refuses to forget a route."""
        with self._locked():
            table = read_table(self.routes_file)
            if apps & set(table):
                write_table(self.routes_file,
                            {app: route for app, route in table.items() if app not in apps})
            live = all([self._forget(app) for app in sorted(apps)])
            block_changes = self._block_changes(dict.fromkeys(apps))
            if block_changes:
                self._check(block_changes)
                self._write_blocks(block_changes)
            if block_changes or not live:
                self.reload()

    def apply(self, changes: dict[str, str | None]) -> None:
        """Write (or, for None, delete) app server blocks after ``nginx -t`` accepts the
        result, then reload.

        Raises PlatformError(router_invalid) and leaves the live configuration untouched if
        nginx rejects the candidate, and PlatformError(router_reload_failed) if the reload
        fails.
        """
        with self._locked():
            self._apply(changes)

    def _apply(self, changes: dict[str, str | None]) -> None:
        block_changes = self._block_changes(changes)
        if not block_changes:
            return
        self._check(block_changes)
        self._write_blocks(block_changes)
        self.reload()

    def _block_changes(self, changes: dict[str, str | None]) -> dict[str, str | None]:
        """The entries of ``changes`` that differ from the live server blocks."""
        differing = {}
        for app, text in changes.items():
            live = self.apps_dir / f"{app}.conf"
            current = live.read_text() if live.exists() else None
            if current != text:
                differing[app] = text
        return differing

    def _check(self, changes: dict[str, str | None]) -> None:
        """Raise PlatformError(router_invalid) unless ``nginx -t`` accepts the whole
        configuration with ``changes`` made."""
        staging = self.nginx_dir / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(self.apps_dir, staging / "apps")
        for app, text in changes.items():
            target = staging / "apps" / f"{app}.conf"
            if text is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(text)
        # Its own pid path (`nginx -t` creates the pid file it names) and control socket.
        (staging / "nginx.conf").write_text(self.render_main(
            staging / "apps", pid_file=staging / "nginx.pid",
            control_socket=staging / "control.sock"))
        result = self._nginx("-t", "-c", str(staging / "nginx.conf"))
        if result.returncode != 0:
            raise PlatformError(f"nginx rejected the new configuration: {result.stderr.strip()}",
                                code="router_invalid")

    def _write_blocks(self, changes: dict[str, str | None]) -> None:
        for app, text in changes.items():
            live = self.apps_dir / f"{app}.conf"
            if text is None:
                live.unlink(missing_ok=True)
            else:
                tmp = live.with_suffix(".tmp")
                tmp.write_text(text)
                tmp.replace(live)

    def _push(self, app: str, route: Route) -> bool:
        """Give nginx ``app``'s route; False if only a reload can (it loads the table file).
        When nginx is not running, the file is all there is to change. Raises
        PlatformError(router_rejected) if nginx refuses the route."""
        try:
            self.control.put(app, route)
        except ControlUnreachable as error:
            return self._unreachable(error)
        return True

    def _forget(self, app: str) -> bool:
        """Remove ``app``'s route from nginx; False if only a reload can."""
        if not is_app_name(app):
            return True  # a stray file's name: nginx holds no route for it
        try:
            self.control.delete(app)
        except ControlUnreachable as error:
            return self._unreachable(error)
        return True

    def _unreachable(self, error: ControlUnreachable) -> bool:
        if not self.is_running():
            return True  # it loads the table file when it starts
        # Its socket file was removed from under it, say: a reload still applies the table.
        logger.warning("%s; reloading nginx, which loads the route table file", error)
        return False

    def reload(self, settle_timeout: float = 15.0) -> None:
        """Gracefully reload a running nginx and wait until it has taken effect.

        A no-op when nginx is not running yet. nginx reloads asynchronously: it starts new
        workers, then tells the old ones to stop accepting connections. Until an old worker
        has done so it still answers new connections with the old configuration, so this
        waits for every worker that was accepting before the reload to stop accepting.
        Raises PlatformError(router_reload_failed) if nginx refuses the signal.
        """
        if not self.is_running():
            logger.info("nginx is not running; configuration written for its start")
            return
        master = int(self.pid_file.read_text().strip())
        old_workers = accepting_workers(master)
        result = self._nginx("-s", "reload", "-c", str(self.main_config))
        if result.returncode != 0:
            raise PlatformError(f"nginx reload failed: {result.stderr.strip()}",
                                code="router_reload_failed")
        deadline = time.monotonic() + settle_timeout
        while old_workers & accepting_workers(master):
            if time.monotonic() > deadline:
                logger.warning("old nginx workers still accept connections %ss after a "
                               "reload", settle_timeout)
                return
            time.sleep(0.02)

    def _nginx(self, *args: str) -> subprocess.CompletedProcess[str]:
        # -e: nginx opens its error log before reading the config; keep it out of /var/log.
        argv = [self.nginx_binary, "-e", str(self.log_dir / "nginx-error.log"), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise changes across processes (web workers, Celery workers) on this host."""
        self.nginx_dir.mkdir(parents=True, exist_ok=True)
        with (self.nginx_dir / ".lock").open("w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
