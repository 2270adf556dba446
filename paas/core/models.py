"""The records paas keeps: apps, builds, releases, formations, domains and API tokens.

Models hold data and small derived facts. Changes go through the services in ``paas.core``
(create_app, start_build, create_release, set_config, scale, rollback), never through views or
tasks directly.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models

from paas.names import validate_app_name


def new_app_uid() -> str:
    return secrets.token_hex(6)


class App(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        DEPLOYING = "deploying"
        CRASHED = "crashed"
        STOPPED = "stopped"

    # Django ignores what a validator returns; the stubs ask for None, this one returns the name.
    name = models.CharField(max_length=30, unique=True,
                            validators=[validate_app_name])  # type: ignore[list-item]
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    collaborators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="collaborating_apps"
    )
    # The config the next release will snapshot. Running containers use their release's copy.
    config = models.JSONField(default=dict, blank=True)
    # Set by the runtime when a process type keeps crashing; cleared by a healthy deploy.
    crashed_at = models.DateTimeField(null=True, blank=True)
    crash_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Random, never reused: names what outlives a release in Docker (volumes), so that an app
    # created again under a destroyed app's name cannot find the old one's data. Empty for
    # apps made before it existed (migration 0005), whose volumes keep their old names.
    uid = models.CharField(max_length=12, blank=True, default=new_app_uid, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def current_release(self) -> "Release | None":
        # A list loaded with prefetch_related("releases") answers without a query per app.
        loaded = getattr(self, "_prefetched_objects_cache", {}).get("releases")
        if loaded is not None:
            return next((r for r in loaded if r.status == Release.Status.CURRENT), None)
        return self.releases.filter(status=Release.Status.CURRENT).first()

    @property
    def status(self) -> str:
        """What users see (see derive_status), from the releases, the formation and crash
        reports; prefetched releases and formations are used when present."""
        prefetched = getattr(self, "_prefetched_objects_cache", {})
        releases = prefetched.get("releases")
        if releases is not None:
            deploying = any(r.status == Release.Status.DEPLOYING for r in releases)
        else:
            deploying = self.releases.filter(status=Release.Status.DEPLOYING).exists()
        formations = prefetched.get("formations")
        if formations is not None:
            running = any(f.quantity > 0 for f in formations)
        else:
            running = self.formations.filter(quantity__gt=0).exists()
        return self.derive_status(deploying=deploying, crashed=bool(self.crashed_at),
                                  has_current=self.current_release is not None,
                                  running=running)

    @classmethod
    def derive_status(cls, *, deploying: bool, crashed: bool, has_current: bool,
                      running: bool) -> str:
        """The one rule for the status users see, for App.status and the apps list: deploying
        while a release deploys, else crashed after a crash report, else running if a
        release is current and some process type has instances, else stopped."""
        if deploying:
            return cls.Status.DEPLOYING
        if crashed:
            return cls.Status.CRASHED
        if has_current and running:
            return cls.Status.RUNNING
        return cls.Status.STOPPED


class Build(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="builds")
    commit_sha = models.CharField(max_length=64)
    branch = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    builder = models.CharField(max_length=64, blank=True, help_text="dockerfile or buildpack name")
    image_id = models.CharField(max_length=80, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.app.name} build {self.pk} ({self.status})"

    @property
    def short_sha(self) -> str:
        return self.commit_sha[:7]

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Release(models.Model):
    """An immutable deployable unit: image + config snapshot + process types.

    Only ``status`` and ``failure_reason`` change after creation; a config change or a rollback
    makes a new release.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DEPLOYING = "deploying"
        CURRENT = "current"
        SUPERSEDED = "superseded"
        FAILED = "failed"

    MUTABLE_FIELDS = frozenset({"status", "failure_reason"})

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="releases")
    number = models.PositiveIntegerField()
    image = models.CharField(max_length=255, help_text="paas/<app>:v<number>")
    image_id = models.CharField(max_length=80)
    config_snapshot = models.JSONField(default=dict, blank=True)
    process_types = models.JSONField(default=dict, blank=True)
    # The app.json of the release's code (health checks, formation defaults).
    app_json = models.JSONField(default=dict, blank=True)
    build = models.ForeignKey(
        Build, null=True, blank=True, on_delete=models.SET_NULL, related_name="releases"
    )
    description = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["app", "number"], name="unique_release_number"),
        ]

    def __str__(self) -> str:
        return f"{self.app.name} {self.version}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or not set(update_fields) <= self.MUTABLE_FIELDS:
                raise ValueError("releases are immutable: only status may change")
        super().save(*args, **kwargs)

    @property
    def version(self) -> str:
        return f"v{self.number}"


class Formation(models.Model):
    """How many containers of one process type an app should run."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="formations")
    process_type = models.CharField(max_length=30)
    quantity = models.PositiveIntegerField(default=0)
    # Per-container limits of this process type; empty/None means no limit. Changing them
    # replaces the containers without a new release (they are not part of the code or config).
    memory_limit = models.CharField(max_length=16, blank=True, help_text="e.g. 256m, 1g")
    cpu_limit = models.FloatField(null=True, blank=True, help_text="CPUs, e.g. 0.5")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["process_type"]
        constraints = [
            models.UniqueConstraint(fields=["app", "process_type"], name="unique_formation"),
        ]

    def __str__(self) -> str:
        return f"{self.app.name} {self.process_type}={self.quantity}"


class Volume(models.Model):
    """A persistent Docker volume mounted into every container of an app at ``mount_path``.

    It outlives containers and releases; only removing it (or the app) deletes its data.
    """

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="volumes")
    name = models.CharField(max_length=30)
    mount_path = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["app", "name"], name="unique_volume_name"),
            models.UniqueConstraint(fields=["app", "mount_path"], name="unique_volume_mount"),
        ]

    def __str__(self) -> str:
        return f"{self.app.name} {self.name}:{self.mount_path}"

    @property
    def docker_name(self) -> str:
        """``paas-<app>_<app uid>_<name>``: removing a volume and adding it again (same app)
        mounts the same data; an app created again under the same name never does. App and
        volume names have no "_", so no app's name can be read as another's."""
        if not self.app.uid:  # an app made before apps had a uid keeps its volumes' names
            return f"paas-{self.app.name}-{self.name}"
        return f"paas-{self.app.name}_{self.app.uid}_{self.name}"


class AppLink(models.Model):
    """``app``'s containers may reach ``target``'s: they join its network, where its web
    containers answer to its name. One way: ``target`` does not reach ``app`` by name."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="links")
    target = models.ForeignKey(App, on_delete=models.CASCADE, related_name="linked_from")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["target__name"]
        constraints = [
            models.UniqueConstraint(fields=["app", "target"], name="unique_app_link"),
            models.CheckConstraint(condition=~models.Q(app=models.F("target")),
                                   name="app_link_not_to_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.app.name} -> {self.target.name}"


class Domain(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="domains")
    hostname = models.CharField(max_length=253, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname


class ApiToken(models.Model):
    """A bearer token for the API, the CLI and git. Only a hash is stored; the token is shown
    once. Revoking deletes the row; an expired token stays listed but authenticates nothing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100, default="default")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="first characters, to tell tokens apart")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="empty: never expires")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="unique_token_name"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        # A token is 256 random bits, so a plain SHA-256 (no salt, no stretching) is enough
        # to make a leaked table useless, and lets authentication look the hash up directly.
        return hashlib.sha256(key.encode()).hexdigest()

    def is_expired(self, now) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def new_service_password() -> str:
    # Hex: safe in a URL and in the services' start scripts without quoting.
    return secrets.token_hex(24)


class Service(models.Model):
    """A backing service (PostgreSQL or Redis): one container with its data on a named
    volume, reachable only from the apps linked to it (``ServiceLink``).

    Owned like an app is: its owner (and superusers) see it, link it and destroy it.
    """

    class Kind(models.TextChoices):
        POSTGRES = "postgres"
        REDIS = "redis"

    class Status(models.TextChoices):
        CREATING = "creating"
        RUNNING = "running"
        RESTARTING = "restarting"
        STOPPED = "stopped"
        FAILED = "failed"

    name = models.CharField(max_length=30, unique=True,
                            validators=[validate_app_name])  # type: ignore[list-item]
    kind = models.CharField(max_length=16, choices=Kind.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    password = models.CharField(max_length=64, default=new_service_password, editable=False)
    # Random, never reused (like App.uid): a service created again under a destroyed one's
    # name never finds the old data.
    uid = models.CharField(max_length=12, default=new_app_uid, editable=False)
    image = models.CharField(max_length=255, blank=True, help_text="what its container runs")
    # What paas last saw of its container; the reconcile keeps it current.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATING)
    status_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def volume_name(self) -> str:
        """``paas.svc.<name>.<uid>``: dots appear in no app volume's name."""
        return f"paas.svc.{self.name}.{self.uid}"


class ServiceLink(models.Model):
    """``app``'s containers join ``service``'s network, and its config has the service's URL
    (DATABASE_URL or REDIS_URL)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="links")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="service_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["app__name"]
        constraints = [
            models.UniqueConstraint(fields=["service", "app"], name="unique_service_link"),
        ]

    def __str__(self) -> str:
        return f"{self.app.name} -> {self.service.name}"


class Certificate(models.Model):
    """A TLS certificate the router serves: an app's (``app`` set) or the control plane's at
    PAAS_CONTROL_DOMAIN (``app`` empty). At most one of each.

    The PEM files are not in the database: they live under ``PAAS_HOME/certs/`` (see
    ``paas.core.certificates``), the key mode 0600, read by nginx's master (root) as it loads
    its configuration. This row says what they hold.
    """

    class Source(models.TextChoices):
        MANUAL = "manual"  # `paas certs:add`
        ACME = "acme"  # issued by an ACME CA (`paas certs:auto`)

    app = models.ForeignKey(App, null=True, blank=True, on_delete=models.CASCADE,
                            related_name="certificates")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    # The DNS names of the leaf's subjectAltName, as the certificate gives them ("*.x.com").
    names = models.JSONField(default=list)
    issuer = models.CharField(max_length=512, blank=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    # SHA-256 of the leaf (DER), as colon-separated hex: what browsers show.
    fingerprint = models.CharField(max_length=95)
    # Strict-Transport-Security on the app's HTTPS answers (the control plane's is PAAS_TLS's).
    hsts = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["app__name"]
        constraints = [
            models.UniqueConstraint(fields=["app"], name="one_certificate_per_app"),
            models.UniqueConstraint(fields=["source"], condition=models.Q(app__isnull=True),
                                    name="one_platform_certificate_per_source"),
        ]

    def __str__(self) -> str:
        return f"{self.app.name if self.app else 'platform'} {self.fingerprint[:23]}"

    @property
    def stem(self) -> str:
        """The PEM files' name: ``<fingerprint hex, 16 digits>``, so a replacement never
        overwrites what a running nginx was loaded with."""
        return self.fingerprint.replace(":", "").lower()[:16]
