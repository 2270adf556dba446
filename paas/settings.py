"""Django settings for paas.

Every setting comes from an environment variable and is parsed strictly: a bad value raises
ImproperlyConfigured at start-up instead of misbehaving later. This module (with the other entry
points) is the only place that reads the environment; everything below takes arguments.
"""

import ipaddress
import os
import re
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from paas.names import HOSTNAME_RE, memory_size

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
# The router's HTTPS port (443 in production): apps with a certificate, and the control plane
# at PAAS_CONTROL_DOMAIN once it has one.
PAAS_ROUTER_TLS_PORT = env_int("PAAS_ROUTER_TLS_PORT", 8443, 1, 65535)
if PAAS_ROUTER_TLS_PORT == PAAS_ROUTER_PORT:
    raise ImproperlyConfigured("PAAS_ROUTER_TLS_PORT must differ from PAAS_ROUTER_PORT, both "
                               f"are {PAAS_ROUTER_PORT}")
# The control plane's own hostname on the router (like paas.example.com; unset: the control
# plane is reached on PAAS_CONTROL_PORT only). No app and no domain may take it. With a
# certificate for it (`paas certs:add --platform`) it is served over HTTPS, and PAAS_TLS=true
# makes Django insist on that.
PAAS_CONTROL_DOMAIN = os.environ.get("PAAS_CONTROL_DOMAIN") or None
if PAAS_CONTROL_DOMAIN is not None and not HOSTNAME_RE.fullmatch(PAAS_CONTROL_DOMAIN):
    raise ImproperlyConfigured("PAAS_CONTROL_DOMAIN must be a lowercase DNS name like "
                               f"paas.example.com, got {PAAS_CONTROL_DOMAIN!r}")
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
# The control plane's processes (see paas/hostctl/supervisor.py), sized for 2 cores and I/O:
# every Python process costs some 70 MB, a thread next to nothing.
# Deploy actions and reconciles at once: threads of one worker process, each mostly waiting on
# Docker and health checks; beat's checks (every 2 s) take one too.
PAAS_WORKER_CONCURRENCY = env_int("PAAS_WORKER_CONCURRENCY", 8, 1, 64)
# Builds at once: threads of the builder process, each driving a `docker build` whose steps
# use the cores.
PAAS_BUILD_CONCURRENCY = env_int("PAAS_BUILD_CONCURRENCY", 2, 1, 64)
# gunicorn: one process; a thread per request, and a push or a followed log holds one for as
# long as it lasts (a whole build), so there are many. Threads start as requests need them.
PAAS_WEB_WORKERS = env_int("PAAS_WEB_WORKERS", 1, 1, 64)
PAAS_WEB_THREADS = env_int("PAAS_WEB_THREADS", 32, 4, 1024)
PAAS_ADMIN_USER = env_str("PAAS_ADMIN_USER", "admin")
# paas's own Redis (broker, locks, live logs) stops taking writes past this, rather than
# growing until the host runs out of memory.
PAAS_REDIS_MAX_MEMORY = env_str("PAAS_REDIS_MAX_MEMORY", "256mb")
if not re.fullmatch(r"[1-9][0-9]{0,5}(mb|gb)", PAAS_REDIS_MAX_MEMORY):
    raise ImproperlyConfigured("PAAS_REDIS_MAX_MEMORY must look like 256mb or 1gb, got "
                               f"{PAAS_REDIS_MAX_MEMORY!r}")
# Login throttling (paas.core.throttle): this many failed sign-ins per username and per client
# address within the window, then refused (429) until the window ends.
PAAS_LOGIN_MAX_FAILURES = env_int("PAAS_LOGIN_MAX_FAILURES", 10, 1, 10_000)
PAAS_LOGIN_WINDOW_SECONDS = env_int("PAAS_LOGIN_WINDOW_SECONDS", 300, 1, 86_400)
# The git receiver's bounds (see paas/git/limits.py). A push's body, counted as read and, for a
# gzip body, as decompressed; the largest object it may hold, uncompressed; and how long one
# read of the body may wait for a client that stopped sending.
PAAS_MAX_PUSH_BYTES = env_int("PAAS_MAX_PUSH_BYTES", 500 * 1024**2, 1024, 2**40)
PAAS_MAX_OBJECT_BYTES = env_int("PAAS_MAX_OBJECT_BYTES", 100 * 1024**2, 1024, 2**40)
PAAS_GIT_READ_TIMEOUT = env_int("PAAS_GIT_READ_TIMEOUT", 60, 1, 3600)
# ...and how long the whole body may take to arrive (a 500 MiB push at 150 kB/s).
PAAS_GIT_PUSH_TIMEOUT = env_int("PAAS_GIT_PUSH_TIMEOUT", 3600, 10, 86_400)

# --- certificates by ACME (see docs/https.md and paas/router/acme.py) -----------------------

# The CA's ACME directory: Let's Encrypt production by default; its staging directory
# (https://acme-staging-v02.api.letsencrypt.org/directory) to try things out, or a test CA.
PAAS_ACME_DIRECTORY = env_str("PAAS_ACME_DIRECTORY",
                              "https://acme-v02.api.letsencrypt.org/directory")
_acme_directory = urlsplit(PAAS_ACME_DIRECTORY)
if _acme_directory.scheme != "https" or not _acme_directory.hostname:
    # RFC 8555 (section 6.1) requires HTTPS, and the JWS URLs are signed as given.
    raise ImproperlyConfigured("PAAS_ACME_DIRECTORY must be an https:// URL, got "
                               f"{PAAS_ACME_DIRECTORY!r}")
# Where the CA sends expiry and account notices; none by default.
PAAS_ACME_EMAIL = os.environ.get("PAAS_ACME_EMAIL") or None
if PAAS_ACME_EMAIL is not None and not re.fullmatch(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+",
                                                     PAAS_ACME_EMAIL):
    raise ImproperlyConfigured(f"PAAS_ACME_EMAIL must be one email address, got "
                               f"{PAAS_ACME_EMAIL!r}")
# The CA bundle that the ACME server's own HTTPS certificate is checked against; unset, the
# system's (enough for Let's Encrypt). A test CA such as pebble needs its own.
PAAS_ACME_CA_BUNDLE = os.environ.get("PAAS_ACME_CA_BUNDLE") or None
if PAAS_ACME_CA_BUNDLE is not None and not Path(PAAS_ACME_CA_BUNDLE).is_file():
    raise ImproperlyConfigured(f"PAAS_ACME_CA_BUNDLE must name a file, got "
                               f"{PAAS_ACME_CA_BUNDLE!r}")
# Renew a certificate once fewer than this many days of it are left (Let's Encrypt's are
# valid for 90 and it suggests renewing at two thirds).
PAAS_ACME_RENEW_DAYS = env_int("PAAS_ACME_RENEW_DAYS", 30, 1, 365)

# Made private where they hold tenants' code and logs; PAAS_HOME itself only traversable, so
# the unprivileged service user reaches its own directory in it (Redis's). Existing
# directories keep their modes.
PAAS_HOME.mkdir(mode=0o711, parents=True, exist_ok=True)
for _subdir, _mode in (("repos", 0o700), ("logs", 0o700), ("nginx", 0o755), ("run", 0o755)):
    (PAAS_HOME / _subdir).mkdir(mode=_mode, parents=True, exist_ok=True)

# --- confinement of app containers (see paas/runtime/confinement.py) ------------------------


def env_memory(name: str, default: str) -> str:
    """A memory quantity like ``512m`` or ``1g`` (k, m or g; at least 6m, Docker's minimum)."""
    value = env_str(name, default)
    size = memory_size(value)
    if size is None:
        raise ImproperlyConfigured(f"{name} must be a memory size like 512m or 1g "
                                   f"(at least 6m), got {value!r}")
    return size


def env_ipv4_network(name: str, default: str, min_prefix: int, max_prefix: int) -> str:
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

# --- multi-host (see docs/multi-host.md) ---------------------------------------------------

# Which scheduler runs apps: "docker", containers on this dockerd; "swarm", Swarm services on
# the swarm this dockerd manages (paas/runtime/swarm_scheduler.py).
PAAS_SCHEDULER = env_str("PAAS_SCHEDULER", "docker")
if PAAS_SCHEDULER not in ("docker", "swarm"):
    raise ImproperlyConfigured(f"PAAS_SCHEDULER must be docker or swarm, got {PAAS_SCHEDULER!r}")
# The port of the registry paas runs itself on loopback (Debian's docker-registry) when the
# swarm scheduler is chosen and PAAS_REGISTRY names no other.
PAAS_REGISTRY_PORT = env_int("PAAS_REGISTRY_PORT", 5000, 1, 65535)
# Where images are pushed after a build so that every node can pull them: an external registry
# ("registry.example.com:5000", "host/path"), or empty: with the swarm scheduler paas's own on
# 127.0.0.1:PAAS_REGISTRY_PORT, with the docker scheduler none (one host needs no registry).
PAAS_REGISTRY = os.environ.get("PAAS_REGISTRY") or None
if PAAS_REGISTRY is not None and not re.fullmatch(
        r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9._-]+)*", PAAS_REGISTRY):
    raise ImproperlyConfigured("PAAS_REGISTRY must look like registry.example.com:5000, got "
                               f"{PAAS_REGISTRY!r}")
PAAS_RUNS_REGISTRY = PAAS_SCHEDULER == "swarm" and PAAS_REGISTRY is None
if PAAS_RUNS_REGISTRY:
    PAAS_REGISTRY = f"127.0.0.1:{PAAS_REGISTRY_PORT}"

# --- Django --------------------------------------------------------------------------------


def generated_secret(name: str, length: int = 50) -> str:
    """The secret kept in ``PAAS_HOME/<name>`` (mode 0600), made the first time it is asked
    for. Every process of this installation reads the same one."""
    path = PAAS_HOME / name
    if not path.exists():
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
                out.write(secrets.token_urlsafe(length))
        except FileExistsError:
            pass  # another process made it a moment ago
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or generated_secret("secret_key")
DEBUG = env_bool("DJANGO_DEBUG", False)


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


# The control plane answers only for its own names: PAAS_DOMAIN (and names under it, such as
# paas.<domain>), loopback, and what PAAS_ALLOWED_HOSTS adds (a server's IP, say).
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", PAAS_DOMAIN, f".{PAAS_DOMAIN}",
                 *env_list("PAAS_ALLOWED_HOSTS")]
CSRF_TRUSTED_ORIGINS = [
    f"http://localhost:{PAAS_CONTROL_PORT}",
    f"http://127.0.0.1:{PAAS_CONTROL_PORT}",
]
if PAAS_CONTROL_DOMAIN is not None:
    # Through the router: its HTTP and HTTPS ports (none in the origin for 80 and 443).
    ALLOWED_HOSTS.append(PAAS_CONTROL_DOMAIN)
    CSRF_TRUSTED_ORIGINS += [
        f"http://{PAAS_CONTROL_DOMAIN}"
        + ("" if PAAS_ROUTER_PORT == 80 else f":{PAAS_ROUTER_PORT}"),
        f"https://{PAAS_CONTROL_DOMAIN}"
        + ("" if PAAS_ROUTER_TLS_PORT == 443 else f":{PAAS_ROUTER_TLS_PORT}"),
    ]

# PAAS_TLS: the control plane is served over HTTPS by a proxy in front of it (the router, or
# another), which says so in X-Forwarded-Proto. gunicorn itself listens on loopback only, so
# only that proxy can send the header. Then cookies are secure, plain HTTP through the proxy
# redirects to HTTPS (paas.https_redirect: requests made on this host straight to gunicorn,
# `make up`'s own check among them, are served) and HSTS is on; `manage.py check --deploy`
# passes.
PAAS_TLS = env_bool("PAAS_TLS", False)
if PAAS_TLS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("PAAS_HSTS_SECONDS", 365 * 24 * 3600, 0)
    CSRF_TRUSTED_ORIGINS += [f"https://{PAAS_DOMAIN}", f"https://*.{PAAS_DOMAIN}"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# HSTS covers the control plane's own host only: the apps under PAAS_DOMAIN decide for
# themselves whether they have certificates, and a preload list entry cannot be undone.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
if PAAS_TLS:
    # SECURE_SSL_REDIRECT is off on purpose: paas.https_redirect redirects in its place.
    SILENCED_SYSTEM_CHECKS.append("security.W008")

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
    *(["paas.https_redirect.ProxiedHttpsRedirectMiddleware"] if PAAS_TLS else []),
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



def _redis_url() -> str:
    """REDIS_URL, with the password of paas's own Redis when it names a local one without a
    password: ``make up`` starts that Redis with ``requirepass`` from the same file."""
    # Not 6379: paas runs its own Redis, beside any system one Debian's package may start.
    url = urlsplit(env_str("REDIS_URL", "redis://127.0.0.1:6380/0"))
    if url.hostname not in ("127.0.0.1", "localhost") or url.password:
        return url.geturl()
    password = quote(generated_secret("redis_password", 32), safe="")
    return url._replace(netloc=f":{password}@{url.netloc.rpartition('@')[2]}").geturl()


REDIS_URL = _redis_url()
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A build is long: don't let one worker process hoard queued builds, and only acknowledge a
# task once it finished so a worker crash re-delivers it.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
# A web container Docker restarted elsewhere (or a route changed behind paas) is unrouted;
# this cheap check re-routes it within seconds.
ROUTE_CHECK_SECONDS = 2.0
# Builds get their own queue and worker processes (PAAS_BUILD_CONCURRENCY), so a few long builds
# never hold up a config change, a scale or the reconcile behind them.
BUILD_QUEUE = "builds"
CELERY_TASK_ROUTES = {"worker.tasks.run_build": {"queue": BUILD_QUEUE}}
CELERY_BEAT_SCHEDULE = {
    "reconcile-all-apps": {
        "task": "worker.tasks.reconcile_all",
        "schedule": float(PAAS_RECONCILE_INTERVAL),
        # A pass still queued when the next one is due is superseded by it: drop it, so a
        # worker that was busy (a long converge) does not run a backlog of passes at once.
        "options": {"expires": float(PAAS_RECONCILE_INTERVAL)},
    },
    # ACME certificates with less than PAAS_ACME_RENEW_DAYS left are issued again; twice a day,
    # as Let's Encrypt suggests, so a CA outage on one pass is retried long before expiry.
    "renew-certificates": {
        "task": "worker.tasks.renew_certificates",
        "schedule": 12 * 3600.0,
        "options": {"expires": 12 * 3600.0},
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
