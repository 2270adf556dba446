"""Django settings for paas.

Every setting comes from an environment variable and is parsed strictly: a bad value raises
ImproperlyConfigured at start-up instead of misbehaving later. This module (with the other entry
points) is the only place that reads the environment; everything below takes arguments.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise ImproperlyConfigured(f"{name} must not be empty")
    return value


def env_int(name: str, default: int, minimum: int = 0, maximum: int = 2**31) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


# --- paas settings -------------------------------------------------------------------------

PAAS_HOME = Path(env_str("PAAS_HOME", "/var/lib/paas")).resolve()
PAAS_DOMAIN = env_str("PAAS_DOMAIN", "localhost")
PAAS_CONTROL_PORT = env_int("PAAS_CONTROL_PORT", 8000, 1, 65535)
PAAS_ROUTER_PORT = env_int("PAAS_ROUTER_PORT", 8080, 1, 65535)
# The CA bundle mounted into build steps so they can reach PyPI/npm through a
# TLS-inspecting proxy. It is never copied into an image.
PAAS_BUILD_CA_BUNDLE = env_str("PAAS_BUILD_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
PAAS_BUILD_TIMEOUT = env_int("PAAS_BUILD_TIMEOUT", 15 * 60, 1)
PAAS_KEEP_RELEASES = env_int("PAAS_KEEP_RELEASES", 5, 1)
# How long a release command (Procfile ``release:``) may run before the deploy fails.
PAAS_RELEASE_TIMEOUT = env_int("PAAS_RELEASE_TIMEOUT", 10 * 60, 1)
PAAS_STACK_IMAGE = env_str("PAAS_STACK_IMAGE", "paas/stack:bookworm")
# The operator's vetted buildpacks: BUILDPACK_URL / .buildpacks may name a directory under it
# by absolute path (and nothing else on the host, since a buildpack's files go into the image).
PAAS_BUILDPACKS_DIR = Path(env_str("PAAS_BUILDPACKS_DIR", str(PAAS_HOME / "buildpacks"))).resolve()
PAAS_HEALTHCHECK_TIMEOUT = env_int("PAAS_HEALTHCHECK_TIMEOUT", 60, 1)
PAAS_DRAIN_SECONDS = env_int("PAAS_DRAIN_SECONDS", 10, 0)
PAAS_RECONCILE_INTERVAL = env_int("PAAS_RECONCILE_INTERVAL", 30, 5)
PAAS_NGINX_BINARY = env_str("PAAS_NGINX_BINARY", "/usr/sbin/nginx")
PAAS_DOCKER_URL = os.environ.get("PAAS_DOCKER_URL") or None  # None: the SDK's default socket
# Loopback by default: app containers reach the host only through their network's gateway,
# and nothing paas runs listens there (see paas.hostctl.firewall for other addresses).
PAAS_BIND_ADDRESS = env_str("PAAS_BIND_ADDRESS", "127.0.0.1")
PAAS_WORKER_CONCURRENCY = env_int("PAAS_WORKER_CONCURRENCY", 4, 1, 64)
PAAS_BUILD_CONCURRENCY = env_int("PAAS_BUILD_CONCURRENCY", 2, 1, 64)
PAAS_ADMIN_USER = env_str("PAAS_ADMIN_USER", "admin")

# --- confinement of app containers (see paas/runtime/confinement.py) ------------------------


def env_memory(name: str, default: str) -> str:
    """A memory quantity like ``512m`` or ``1g`` (k, m or g; at least 6m, Docker's minimum)."""
    value = env_str(name, default).strip().lower()
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    number, unit = value[:-1], value[-1:]
    if unit not in units or not number.isdigit() or not 0 < len(number) <= 7 \
            or int(number) * units[unit] < 6 * 1024**2:
        raise ImproperlyConfigured(f"{name} must be a memory size like 512m or 1g "
                                   f"(at least 6m), got {value!r}")
    return f"{int(number)}{unit}"


def env_ipv4_network(name: str, default: str, min_prefix: int, max_prefix: int) -> str:
    import ipaddress

    raw = env_str(name, default)
    try:
        network = ipaddress.IPv4Network(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be an IPv4 network like 10.213.0.0/16, "
                                   f"got {raw!r} ({error})") from None
    if not min_prefix <= network.prefixlen <= max_prefix:
        raise ImproperlyConfigured(f"{name} must have a prefix from /{min_prefix} to "
                                   f"/{max_prefix}, got {raw!r}")
    return str(network)


# The memory limit of every container whose process type has none of its own (`ps:resize`),
# and of one-off containers (release phase, `run`).
PAAS_DEFAULT_MEMORY = env_memory("PAAS_DEFAULT_MEMORY", "512m")
# Processes (and threads) one container may have: a fork bomb stops here.
PAAS_PIDS_LIMIT = env_int("PAAS_PIDS_LIMIT", 256, 16, 65536)
# Run app containers with a read-only root filesystem (a tmpfs at /tmp; volumes stay writable).
PAAS_READ_ONLY_ROOTFS = env_bool("PAAS_READ_ONLY_ROOTFS", False)
# Ceilings on all build steps running on this dockerd together (BuildKit in Docker 20.10 takes
# no per-build limits; see paas/runtime/build_limits.py). Set by `make up`.
PAAS_BUILD_MEMORY = env_memory("PAAS_BUILD_MEMORY", "4g")
PAAS_BUILD_PIDS = env_int("PAAS_BUILD_PIDS", 4096, 64, 4194304)
# Each app's Docker network takes a /24 of this pool (at most 256 apps per /16).
PAAS_NETWORK_POOL = env_ipv4_network("PAAS_NETWORK_POOL", "10.213.0.0/16", 8, 24)

for _subdir in ("repos", "logs", "nginx", "run"):
    (PAAS_HOME / _subdir).mkdir(parents=True, exist_ok=True)

# --- Django --------------------------------------------------------------------------------


def _secret_key() -> str:
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    key_file = PAAS_HOME / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = ["*"]
CSRF_TRUSTED_ORIGINS = [
    f"http://localhost:{PAAS_CONTROL_PORT}",
    f"http://127.0.0.1:{PAAS_CONTROL_PORT}",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "paas.core",
    "webui",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "paas.urls"
WSGI_APPLICATION = "paas.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{PAAS_HOME / 'paas.sqlite3'}",
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process, the worker and beat share one SQLite file: wait for locks instead of
    # failing, and use WAL so readers never block the writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = PAAS_HOME / "static"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# --- Celery and Redis ----------------------------------------------------------------------

# Not 6379: paas runs its own Redis, beside any system one Debian's package may start.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6380/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A build is long: don't let one worker process hoard queued builds, and only acknowledge a
# task once it finished so a worker crash re-delivers it.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
# A restarted web container gets a new port; this cheap check re-routes within seconds.
ROUTE_CHECK_SECONDS = 2.0
# Builds get their own queue and worker processes (PAAS_BUILD_CONCURRENCY), so a few long builds
# never hold up a config change, a scale or the reconcile behind them.
BUILD_QUEUE = "builds"
CELERY_TASK_ROUTES = {"worker.tasks.run_build": {"queue": BUILD_QUEUE}}
CELERY_BEAT_SCHEDULE = {
    "reconcile-all-apps": {
        "task": "worker.tasks.reconcile_all",
        "schedule": float(PAAS_RECONCILE_INTERVAL),
    },
    "reroute-moved-ports": {
        "task": "worker.tasks.reroute_moved_ports",
        "schedule": ROUTE_CHECK_SECONDS,
        # A check that waited in the queue past the next one's time is of no use: drop it.
        "options": {"expires": ROUTE_CHECK_SECONDS},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("PAAS_LOG_LEVEL", "INFO")},
}
