"""Django admin for operators (superusers only): every paas record, to look at; API tokens
may be revoked here.

Apps, formations, domains and collaborators change only through the dashboard, the API or the
CLI, which call the services in paas.core: those reconcile containers and the router and do
destroy's cleanup. A row written here would skip all of that, so the admin shows them read-only.

Lists link across records (app -> its builds and releases, release -> its build) and avoid
per-row queries (list_select_related, annotations), so they stay fast with many apps.
"""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from paas.core.models import (
    ApiToken,
    App,
    Build,
    Certificate,
    Domain,
    Formation,
    Release,
    Service,
    ServiceLink,
)
from webui.forms import AdminLoginForm


def _admin_link(obj, label: str | None = None) -> str:
    if obj is None:
        return "-"
    url = reverse(f"admin:core_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def _changelist_link(model, app: App, label: str) -> str:
    url = reverse(f"admin:core_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?app__id__exact={}">{}</a>', url, app.pk, label)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, edited or deleted here.

    Builds and releases are records of what happened (deleting the current release would
    leave nothing to serve). Scaling, domains, collaborators and destroy go through paas.core
    (scale, add_domain, add_collaborator, destroy_app ...), which reconcile containers and the
    router; a row written or deleted here would leave them as they were. Without delete
    permission "delete selected" goes too.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ServiceManagedInline(admin.TabularInline):
    """An app's formations and domains on its page, read-only for the same reason."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class FormationInline(ServiceManagedInline):
    model = Formation
    readonly_fields = ("updated_at",)


class DomainInline(ServiceManagedInline):
    model = Domain
    readonly_fields = ("created_at",)


@admin.register(App)
class AppAdmin(ReadOnlyAdmin):
    list_display = ("name", "owner", "dashboard_link", "crashed", "build_count",
                    "release_count", "created_at")
    list_filter = ("created_at", ("crashed_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "owner__username", "collaborators__username")
    list_select_related = ("owner",)
    # Collaborators show as a plain list: add_collaborator/remove_collaborator keep them.
    readonly_fields = ("dashboard_link", "collaborators", "created_at", "crashed_at",
                       "crash_reason", "records")
    inlines = [FormationInline, DomainInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(
            builds_total=Count("builds", distinct=True),
            releases_total=Count("releases", distinct=True))

    @admin.display(description="dashboard")
    def dashboard_link(self, app: App) -> str:
        if app.pk is None:
            return "-"
        return format_html('<a href="{}">open</a>', reverse("webui:app", args=[app.name]))

    @admin.display(description="crashed", boolean=True, ordering="crashed_at")
    def crashed(self, app: App) -> bool:
        return app.crashed_at is not None

    @admin.display(description="builds", ordering="builds_total")
    def build_count(self, app: App) -> str:
        return _changelist_link(Build, app, str(app.builds_total))

    @admin.display(description="releases", ordering="releases_total")
    def release_count(self, app: App) -> str:
        return _changelist_link(Release, app, str(app.releases_total))

    @admin.display(description="records")
    def records(self, app: App) -> str:
        if app.pk is None:
            return "-"
        return format_html("{} · {}", _changelist_link(Build, app, "builds"),
                           _changelist_link(Release, app, "releases"))


@admin.register(Build)
class BuildAdmin(ReadOnlyAdmin):
    list_display = ("pk", "app_link", "short_sha", "branch", "status", "builder", "created_by",
                    "created_at", "finished_at")
    list_filter = ("status", "builder", "branch", "created_at")
    search_fields = ("app__name", "commit_sha", "error_code", "error_message")
    list_select_related = ("app", "created_by")
    date_hierarchy = "created_at"
    readonly_fields = ("log_link", "release_links")

    @admin.display(description="app", ordering="app__name")
    def app_link(self, build: Build) -> str:
        return _admin_link(build.app)

    @admin.display(description="log")
    def log_link(self, build: Build) -> str:
        url = reverse("webui:build", args=[build.app.name, build.pk])
        return format_html('<a href="{}">view in the dashboard</a>', url)

    @admin.display(description="releases")
    def release_links(self, build: Build) -> str:
        links = [_admin_link(r, r.version) for r in build.releases.all()]
        return format_html(", ".join(["{}"] * len(links)), *links) if links else "-"


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "app_link", "status", "description", "build_link", "created_by",
                    "created_at")
    list_filter = ("status", "created_at")
    search_fields = ("app__name", "description", "image")
    list_select_related = ("app", "build", "created_by")
    date_hierarchy = "created_at"

    @admin.display(description="app", ordering="app__name")
    def app_link(self, release: Release) -> str:
        return _admin_link(release.app)

    @admin.display(description="build")
    def build_link(self, release: Release) -> str:
        return _admin_link(release.build, f"#{release.build_id}") if release.build else "-"


@admin.register(Formation)
class FormationAdmin(ReadOnlyAdmin):
    list_display = ("app", "process_type", "quantity", "updated_at")
    list_filter = ("process_type",)
    search_fields = ("app__name",)
    list_select_related = ("app",)


@admin.register(Domain)
class DomainAdmin(ReadOnlyAdmin):
    list_display = ("hostname", "app", "created_at")
    search_fields = ("hostname", "app__name")
    list_select_related = ("app",)


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    """What the PEM files under PAAS_HOME/certs hold (never the key): they change only through
    paas.core.certificates, which rewrites the router's server blocks."""

    list_display = ("__str__", "app", "source", "not_after", "hsts", "updated_at")
    list_filter = ("source", "hsts")
    search_fields = ("app__name", "fingerprint")
    list_select_related = ("app",)


class ServiceLinkInline(ServiceManagedInline):
    model = ServiceLink
    fields = ("app", "created_at")
    readonly_fields = fields


@admin.register(Service)
class ServiceAdmin(ReadOnlyAdmin):
    """Read-only like apps: create, link and destroy go through paas.core.services (they
    start containers and make releases). The password is never shown here."""

    list_display = ("name", "kind", "owner", "status", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "owner__username", "links__app__name")
    list_select_related = ("owner",)
    fields = ("name", "kind", "owner", "status", "status_message", "image", "volume",
              "created_at")
    readonly_fields = fields
    inlines = [ServiceLinkInline]

    @admin.display(description="volume")
    def volume(self, service: Service) -> str:
        return service.volume_name


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens to look at and revoke (delete); never made or edited here: a token made here
    would have no key anyone could read (paas.core.accounts.issue_token shows it once), and
    moving one to another user would hand them someone's credential."""

    list_display = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at")
    list_filter = ("created_at", "last_used_at", "expires_at")
    search_fields = ("user__username", "name", "prefix")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "key_hash", "prefix", "created_at", "last_used_at",
                       "expires_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# The admin shows every tenant's apps, builds and tokens: superusers only, whatever staff
# flags or permissions someone was given, and its login is throttled like the dashboard's.
admin.site.has_permission = lambda request: bool(  # type: ignore[method-assign]
    request.user.is_active and request.user.is_superuser)
admin.site.login_form = AdminLoginForm
