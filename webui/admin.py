"""Django admin for operators: every paas record, with build and release records read-only."""

from django.contrib import admin

from paas.core.models import ApiToken, App, Build, Domain, Formation, Release


class FormationInline(admin.TabularInline):
    model = Formation
    extra = 0


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class ReadOnlyAdmin(admin.ModelAdmin):
    """Builds and releases are records of what happened: viewable, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "status", "current_release", "created_at", "crashed_at")
    list_filter = ("created_at",)
    search_fields = ("name", "owner__username")
    filter_horizontal = ("collaborators",)
    readonly_fields = ("created_at", "crashed_at", "crash_reason")
    inlines = [FormationInline, DomainInline]


@admin.register(Build)
class BuildAdmin(ReadOnlyAdmin):
    list_display = ("pk", "app", "short_sha", "branch", "status", "builder", "created_by",
                    "created_at", "finished_at")
    list_filter = ("status", "builder", "created_at")
    search_fields = ("app__name", "commit_sha")
    list_select_related = ("app", "created_by")


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = ("app", "version", "status", "description", "build", "created_by",
                    "created_at")
    list_filter = ("status", "created_at")
    search_fields = ("app__name", "description")
    list_select_related = ("app", "build", "created_by")


@admin.register(Formation)
class FormationAdmin(admin.ModelAdmin):
    list_display = ("app", "process_type", "quantity", "updated_at")
    list_filter = ("process_type",)
    search_fields = ("app__name",)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("hostname", "app", "created_at")
    search_fields = ("hostname", "app__name")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "prefix", "created_at", "last_used_at")
    search_fields = ("user__username", "name")
    readonly_fields = ("key_hash", "prefix", "created_at", "last_used_at")
