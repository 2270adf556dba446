"""The supervisord configuration that keeps the control plane running in host mode.

Every control-plane process (Redis, gunicorn, the two Celery workers, one of them running beat,
nginx) runs under supervisord with autorestart, so a crashed process comes back. Redis runs as
the unprivileged service user; the others drive Docker (whose socket is root-equivalent) or bind
the router's port, so they run as the user that ran `make up` (see docs/SECURITY.md).
"""

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class StackSettings:
    home: Path
    project_dir: Path
    control_port: int
    router_port: int
    bind_address: str
    redis_url: str
    worker_concurrency: int
    build_concurrency: int
    nginx_binary: str
    env: dict[str, str]
    # The unprivileged user the services that need no Docker run as (Redis); None: as
    # whoever runs `make up`.
    service_user: str | None = None
    redis_max_memory: str = "256mb"
    web_workers: int = 1
    web_threads: int = 32
    # The loopback port of the registry paas runs for a swarm (docker-registry); None: none.
    registry_port: int | None = None

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def config_path(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def pid_path(self) -> Path:
        return self.run_dir / "supervisord.pid"

    @property
    def redis_config_path(self) -> Path:
        return self.run_dir / "redis.conf"

    @property
    def registry_config_path(self) -> Path:
        return self.run_dir / "registry.yml"

    def local_redis_port(self) -> int | None:
        """The port of the Redis paas should run itself, or None if REDIS_URL is remote."""
        url = urlparse(self.redis_url)
        if url.hostname in ("127.0.0.1", "localhost"):
            return url.port or 6379
        return None


def _quote(value: str) -> str:
    # supervisord's environment= syntax: KEY="value",... with % doubled.
    return '"' + value.replace("%", "%%").replace('"', '\\"') + '"'


def redis_config(stack: StackSettings) -> str:
    """The configuration of paas's own Redis: loopback only, with the password REDIS_URL
    carries (settings generate it), so no app container or local user without it gets in.
    Kept in a file (mode 0600) rather than on the command line, which any user can read."""
    password = urlparse(stack.redis_url).password or ""
    lines = ["bind 127.0.0.1", f"port {stack.local_redis_port()}",
             f"dir {stack.home / 'redis'}", "appendonly yes", 'save ""', "daemonize no",
             "protected-mode yes",
             # Bounded, and never evicting: Redis holds the broker's queues and the locks, so
             # when full it refuses writes (clear errors) rather than dropping a lock.
             f"maxmemory {stack.redis_max_memory}", "maxmemory-policy noeviction"]
    if password:
        lines.append(f"requirepass {unquote(password)}")
    return "\n".join(lines) + "\n"


def registry_config(stack: StackSettings) -> str:
    """The configuration of the registry paas runs for a swarm: on loopback, where dockerd
    pushes to it without TLS (dockerd trusts 127.0.0.0/8 as an insecure registry by default),
    its blobs under PAAS_HOME/registry. Other nodes reach it through what the operator puts in
    front of it, or use PAAS_REGISTRY instead (see docs/multi-host.md)."""
    return "\n".join([
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {stack.home / 'registry'}",
        "http:",
        f"  addr: 127.0.0.1:{stack.registry_port}",
        "",
    ])


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def render(stack: StackSettings) -> str:
    python = sys.executable
    bin_dir = Path(python).parent
    environment = ",".join(f"{key}={_quote(value)}" for key, value in sorted(stack.env.items()))
    programs: dict[str, str] = {}
    run_as: dict[str, str] = {}
    # Where a program starts: the project, except for one that runs unprivileged, which starts
    # in its own data directory: the project may sit in a directory only root can enter (a
    # clone into `mktemp -d`, mode 0700), and supervisord cannot chdir there as that user.
    workdir: dict[str, Path] = {}
    redis_port = stack.local_redis_port()
    if redis_port is not None:
        (stack.home / "redis").mkdir(parents=True, exist_ok=True)
        write_private(stack.redis_config_path, redis_config(stack))
        if stack.service_user:
            # All of it: a Redis that ran as root before left its files root's.
            for path in (stack.redis_config_path, stack.home / "redis",
                         *(stack.home / "redis").rglob("*")):
                shutil.chown(path, stack.service_user, stack.service_user)
            run_as["redis"] = stack.service_user
            workdir["redis"] = stack.home / "redis"
        programs["redis"] = f"/usr/bin/redis-server {stack.redis_config_path}"
    if stack.registry_port is not None:
        (stack.home / "registry").mkdir(mode=0o700, parents=True, exist_ok=True)
        stack.registry_config_path.write_text(registry_config(stack))
        if stack.service_user:
            # Needs no Docker: it runs unprivileged, like Redis.
            for path in (stack.home / "registry", *(stack.home / "registry").rglob("*")):
                shutil.chown(path, stack.service_user, stack.service_user)
            run_as["registry"] = stack.service_user
            workdir["registry"] = stack.home / "registry"
        programs["registry"] = f"/usr/bin/docker-registry serve {stack.registry_config_path}"
    programs["web"] = (
        f"{bin_dir / 'gunicorn'} paas.wsgi:application "
        f"--bind {stack.bind_address}:{stack.control_port} "
        # gthread: a push holds its request open for the whole build while the worker's
        # main loop keeps heart-beating, so a long build never trips the timeout.
        f"--worker-class gthread --workers {stack.web_workers} --threads {stack.web_threads} "
        "--timeout 120 --graceful-timeout 30 --access-logfile -"
    )
    # Two workers, so that builds never hold up deploy actions: each its own process and
    # queue, with a pool of threads (see worker/__main__.py). Beat runs in the first.
    programs["worker"] = (
        f"{python} -m worker --queues celery --concurrency {stack.worker_concurrency} "
        f"--hostname worker@%(host_node_name)s "
        f"--beat-schedule {stack.run_dir / 'celerybeat-schedule'}"
    )
    programs["builder"] = (
        f"{python} -m worker --queues builds --concurrency {stack.build_concurrency} "
        f"--hostname builder@%(host_node_name)s"
    )
    programs["router"] = (
        f"{stack.nginx_binary} -e {stack.log_dir / 'nginx-error.log'} "
        f"-c {stack.home / 'nginx' / 'nginx.conf'} -g 'daemon off;'"
    )
    sections = [
        "[unix_http_server]",
        f"file={stack.socket_path}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={stack.log_dir / 'supervisord.log'}",
        f"pidfile={stack.pid_path}",
        f"directory={stack.project_dir}",
        "nodaemon=false",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{stack.socket_path}",
        "",
    ]
    for name, command in programs.items():
        sections += [
            f"[program:{name}]",
            f"command={command}",
            *([f"user={run_as[name]}"] if name in run_as else []),
            f"directory={workdir.get(name, stack.project_dir)}",
            f"environment={environment}",
            "autostart=true",
            "autorestart=true",
            "startsecs=2",
            "startretries=10",
            "stopasgroup=true",
            "killasgroup=true",
            "stopwaitsecs=30",
            "redirect_stderr=true",
            f"stdout_logfile={stack.log_dir / (name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=3",
            "",
        ]
    return "\n".join(sections)
