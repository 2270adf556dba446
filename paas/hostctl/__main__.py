"""Host mode: start, stop and inspect the paas control plane on this machine.

    python -m paas.hostctl up       start everything (idempotent) and print how to use it
    python -m paas.hostctl down     stop what ``up`` started
    python -m paas.hostctl status   show what runs

An entry point: it reads the environment (through paas.settings) and hands plain values down.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
PASSED_ENV_PREFIXES = ("PAAS_", "DJANGO_", "DATABASE_URL", "REDIS_URL")


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")
    import django

    django.setup()


def _stack(service_user: bool = True):
    from django.conf import settings

    from paas.hostctl.supervisor import StackSettings

    env = {key: value for key, value in os.environ.items()
           if key.startswith(PASSED_ENV_PREFIXES)}
    env["PAAS_HOME"] = str(settings.PAAS_HOME)
    env["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    env["DJANGO_SETTINGS_MODULE"] = "paas.settings"
    env["PYTHONUNBUFFERED"] = "1"
    return StackSettings(
        home=settings.PAAS_HOME, project_dir=PROJECT_DIR,
        control_port=settings.PAAS_CONTROL_PORT, router_port=settings.PAAS_ROUTER_PORT,
        bind_address=settings.PAAS_BIND_ADDRESS, redis_url=settings.REDIS_URL,
        worker_concurrency=settings.PAAS_WORKER_CONCURRENCY,
        build_concurrency=settings.PAAS_BUILD_CONCURRENCY,
        nginx_binary=settings.PAAS_NGINX_BINARY, env=env,
        service_user=ensure_service_user(settings.PAAS_HOME) if service_user else None,
        redis_max_memory=settings.PAAS_REDIS_MAX_MEMORY,
        web_workers=settings.PAAS_WEB_WORKERS, web_threads=settings.PAAS_WEB_THREADS,
        registry_port=settings.PAAS_REGISTRY_PORT if settings.PAAS_RUNS_REGISTRY else None,
    )


SERVICE_USER = "paas"


def ensure_service_user(home: Path) -> str | None:
    """The system user ``paas`` (made if missing, with no login and no home of its own), or
    None when not running as root, where every service runs as the caller anyway, or when
    another user cannot reach ``home`` (a private PAAS_HOME: its modes are the operator's)."""
    if os.geteuid() != 0:
        return None
    if not all(path.stat().st_mode & 0o001 for path in (home, *home.parents)):
        print(f"paas: {home} is not reachable for other users, so Redis runs as root too")
        return None
    exists = subprocess.run(["getent", "passwd", SERVICE_USER], capture_output=True)
    if exists.returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", SERVICE_USER], check=True)
    return SERVICE_USER


def _supervisorctl(stack, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    argv = [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(stack.config_path),
            *args]
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def _supervisord_running(stack) -> bool:
    if not stack.pid_path.exists():
        return False
    try:
        os.kill(int(stack.pid_path.read_text().strip()), 0)
    except (ValueError, ProcessLookupError):
        return False
    return True


def _all_running(stack) -> bool:
    """True once supervisord reports every program RUNNING (past its start-up grace)."""
    lines = _supervisorctl(stack, "status", check=False).stdout.splitlines()
    states = [line.split()[1] for line in lines if len(line.split()) > 1]
    return bool(states) and all(state == "RUNNING" for state in states)


def _wait(what: str, ready, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"paas: {what} did not come up within {int(timeout)}s; "
                             "see the logs under PAAS_HOME/logs")
        time.sleep(0.5)


def _http_ok(url: str, host: str | None = None) -> bool:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


def ensure_dockerd(home: Path) -> None:
    """Start dockerd if no Docker daemon answers; remember that paas started it."""
    from paas.core.platform import platform

    reachable = platform().images.reachable

    if reachable():
        return
    log = open(home / "logs" / "dockerd.log", "ab")  # noqa: SIM115 - handed to the daemon
    process = subprocess.Popen(["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    (home / "run" / "dockerd.pid").write_text(str(process.pid))
    print("paas: started dockerd")
    _wait("dockerd", reachable, timeout=60)


def ensure_stack_image() -> None:
    subprocess.run(["bash", str(PROJECT_DIR / "buildpacks" / "stack" / "build.sh")], check=True)


def ensure_database_and_admin(home: Path) -> dict:
    from django.conf import settings
    from django.core.management import call_command

    from paas.core.accounts import ensure_admin

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    # Password and token hashes: for paas's processes only.
    for database in home.glob("paas.sqlite3*"):
        database.chmod(0o600)
    credentials_path = home / "credentials.json"
    user, password, token = ensure_admin(settings.PAAS_ADMIN_USER)
    if password is not None:
        credentials_path.touch(mode=0o600)
        credentials_path.chmod(0o600)
        credentials_path.write_text(json.dumps(
            {"username": user.username, "password": password, "token": token}, indent=2))
        return {"username": user.username, "password": password, "token": token, "new": True}
    if credentials_path.exists():
        return {**json.loads(credentials_path.read_text()), "new": False}
    return {"username": user.username, "password": "(unchanged)", "token": "(unchanged)",
            "new": False}


def prepare(args) -> None:
    """dockerd running and the stack image built: what both ``up`` and the tests need."""
    _setup_django()
    from django.conf import settings

    for subdir in ("run", "logs"):
        (settings.PAAS_HOME / subdir).mkdir(parents=True, exist_ok=True)
    ensure_dockerd(settings.PAAS_HOME)
    ensure_stack_image()


def init(args) -> None:
    """Database, admin user and router config, without starting anything (docker-compose's
    one-shot ``migrate`` service runs this)."""
    _setup_django()
    from django.conf import settings

    from paas.core.platform import platform
    from paas.hostctl.supervisor import redis_config, write_private

    for subdir in ("run", "logs", "redis"):
        (settings.PAAS_HOME / subdir).mkdir(parents=True, exist_ok=True)
    credentials = ensure_database_and_admin(settings.PAAS_HOME)
    platform().router.write_main_config()
    # docker-compose's Redis reads its configuration (and password) from here.
    stack = _stack(service_user=False)
    if stack.local_redis_port() is not None:
        write_private(stack.redis_config_path, redis_config(stack))
    if credentials["new"]:
        print(f"paas: admin user {credentials['username']!r}, password "
              f"{credentials['password']!r}, API token {credentials['token']} "
              f"(kept mode 0600 in {settings.PAAS_HOME / 'credentials.json'})")


def up(args) -> None:
    _setup_django()
    from django.conf import settings

    from paas.core.platform import platform
    from paas.hostctl.supervisor import render

    stack = _stack()
    home = settings.PAAS_HOME
    for directory in (stack.run_dir, stack.log_dir):
        directory.mkdir(parents=True, exist_ok=True)
    if not args.no_docker:
        ensure_dockerd(home)
        ensure_stack_image()
    credentials = ensure_database_and_admin(home)
    platform().router.write_main_config()
    guard_host(stack)
    stack.config_path.write_text(render(stack))
    if _supervisord_running(stack):
        _supervisorctl(stack, "reread")
        _supervisorctl(stack, "update")
        # Pick up new code and settings: `make up` again is how an operator upgrades.
        _supervisorctl(stack, "restart", "all", check=False)
    else:
        subprocess.run([str(Path(sys.executable).parent / "supervisord"), "-c",
                        str(stack.config_path)], check=True)
    _wait("every service", lambda: _all_running(stack))
    control = f"http://127.0.0.1:{stack.control_port}/"
    _wait("the control plane", lambda: _http_ok(control))
    _wait("the router", lambda: _http_ok(f"http://127.0.0.1:{stack.router_port}/"))
    if not args.no_docker:
        from paas.core.reconcile import reconcile_all

        reconcile_all()
    _print_summary(stack, settings.PAAS_DOMAIN, credentials)


def guard_host(stack) -> None:
    """Keep app containers off the control plane and bound the build steps (see
    paas.hostctl.firewall); ``down`` takes both away."""
    from django.conf import settings

    from paas.hostctl import firewall

    if firewall.guard_control_plane(stack.home, stack.bind_address,
                                    settings.PAAS_NETWORK_POOL, stack.control_port):
        print(f"paas: app containers ({settings.PAAS_NETWORK_POOL}) may not open "
              f"{stack.bind_address}:{stack.control_port} (iptables)")
    print(firewall.limit_builds(stack.run_dir, settings.PAAS_BUILD_MEMORY,
                                settings.PAAS_BUILD_PIDS))
    if settings.PAAS_SCHEDULER == "swarm" and firewall.guard_published_tasks(stack.home):
        print("paas: swarm tasks' ports answer this host only (iptables DOCKER-USER)")


def unguard_host(stack) -> None:
    from django.conf import settings

    from paas.hostctl import firewall

    firewall.unguard_control_plane(stack.home, settings.PAAS_NETWORK_POOL, stack.control_port)
    firewall.unlimit_builds(stack.run_dir)
    firewall.unguard_published_tasks(stack.home)


def _print_summary(stack, domain: str, credentials: dict) -> None:
    from django.conf import settings

    user = credentials["username"]
    print()
    print(f"paas is up (PAAS_HOME={stack.home})")
    print(f"  dashboard:  http://localhost:{stack.control_port}/")
    if credentials["new"]:
        # Shown once; afterwards only the 0600 file has them.
        print(f"  admin:      user {user!r}, password {credentials['password']!r}")
        print(f"  API token:  {credentials['token']}")
    else:
        print(f"  admin:      user {user!r}; password and API token are in "
              f"{stack.home / 'credentials.json'}")
    print(f"  git remote: http://{user}:<token>@localhost:{stack.control_port}/git/<app>.git")
    print(f"  apps at:    http://<app>.{domain}:{stack.router_port}/ (and, with a "
          f"certificate, https://<app>.{domain}:{settings.PAAS_ROUTER_TLS_PORT}/)")
    if settings.PAAS_CONTROL_DOMAIN:
        print(f"  also at:    http://{settings.PAAS_CONTROL_DOMAIN}:{stack.router_port}/ "
              "through the router (https with `paas certs:add --platform`)")
    if credentials["new"]:
        print(f"  (credentials are stored, mode 0600, in {stack.home / 'credentials.json'})")


def down(args) -> None:
    _setup_django()
    stack = _stack()
    if _supervisord_running(stack):
        pid = int(stack.pid_path.read_text().strip())
        _supervisorctl(stack, "shutdown", check=False)
        _wait("supervisord to stop", lambda: not _pid_alive(pid), timeout=60)
        print("paas: control plane stopped")
    unguard_host(stack)
    if args.remove_apps:
        from paas.core.platform import platform

        # Known to no one: every app's containers go.
        platform().scheduler.remove_orphans(known_apps=set())
        # And every backing service's container and network (their volumes stay).
        platform().services.remove_orphan_backing_services(known=set())
    dockerd_pid = stack.run_dir / "dockerd.pid"
    if args.stop_docker and dockerd_pid.exists():
        pid = int(dockerd_pid.read_text().strip())
        if _pid_alive(pid):
            os.kill(pid, 15)
            _wait("dockerd to stop", lambda: not _pid_alive(pid), timeout=60)
            print("paas: dockerd stopped")
        dockerd_pid.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def status(args) -> None:
    _setup_django()
    stack = _stack()
    if not _supervisord_running(stack):
        print("paas: not running")
        raise SystemExit(3)
    result = _supervisorctl(stack, "status", check=False)
    print(result.stdout, end="")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m paas.hostctl")
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start the control plane")
    up_parser.add_argument("--no-docker", action="store_true",
                           help="skip dockerd, the stack image and the start-up reconcile")
    down_parser = commands.add_parser("down", help="stop the control plane")
    down_parser.add_argument("--remove-apps", action="store_true",
                             help="also remove this installation's app containers")
    down_parser.add_argument("--stop-docker", action="store_true",
                             help="also stop dockerd if paas started it")
    commands.add_parser("status", help="show the control plane's processes")
    commands.add_parser("prepare", help="start dockerd if needed and build the stack image")
    commands.add_parser("init", help="migrate, create the admin user, write the router config")
    args = parser.parse_args()
    {"up": up, "down": down, "status": status, "prepare": prepare, "init": init}[args.command](args)


if __name__ == "__main__":
    main()
