from django.contrib.auth import views as auth_views
from django.urls import path

from webui import account_views, service_views, streams, views
from webui.forms import LoginForm

app_name = "webui"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="webui/login.html",
                                                authentication_form=LoginForm,
                                                redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.app_list, name="app-list"),
    # accounts: your tokens; users (superusers only)
    path("account/tokens/", account_views.tokens, name="tokens"),
    path("account/tokens/revoke", account_views.token_revoke, name="token-revoke"),
    # A user made with a one-time password sets their own here.
    path("account/password/", auth_views.PasswordChangeView.as_view(
        template_name="webui/password_change.html", success_url="/account/tokens/?password=1"),
        name="password-change"),
    path("users/", account_views.users, name="users"),
    path("users/new", account_views.user_create, name="user-create"),
    path("users/active", account_views.user_set_active, name="user-active"),
    path("apps/new", views.app_create, name="app-create"),
    path("services/", service_views.service_list, name="services"),
    path("services/<str:name>/backups/<str:backup_id>", service_views.backup_download,
         name="service-backup"),
    path("apps/<str:name>/", views.app_detail, name="app"),
    path("apps/<str:name>/instances", views.app_instances, name="instances"),
    path("apps/<str:name>/config/set", views.config_set, name="config-set"),
    path("apps/<str:name>/config/unset", views.config_unset, name="config-unset"),
    path("apps/<str:name>/scale", views.scale, name="scale"),
    path("apps/<str:name>/resize", views.resize, name="resize"),
    path("apps/<str:name>/rollback", views.rollback, name="rollback"),
    path("apps/<str:name>/actions/<str:action_id>/stream", streams.action_stream,
         name="action-stream"),
    path("apps/<str:name>/volumes/add", views.volume_add, name="volume-add"),
    path("apps/<str:name>/volumes/remove", views.volume_remove, name="volume-remove"),
    path("apps/<str:name>/builds/cache/purge", views.build_cache_purge,
         name="build-cache-purge"),
    path("apps/<str:name>/domains/add", views.domain_add, name="domain-add"),
    path("apps/<str:name>/domains/remove", views.domain_remove, name="domain-remove"),
    path("apps/<str:name>/certs/add", views.cert_add, name="cert-add"),
    path("apps/<str:name>/certs/remove", views.cert_remove, name="cert-remove"),
    path("apps/<str:name>/certs/auto", views.cert_auto, name="cert-auto"),
    path("apps/<str:name>/certs/hsts", views.cert_hsts, name="cert-hsts"),
    path("apps/<str:name>/collaborators/add", views.collaborator_add, name="collaborator-add"),
    path("apps/<str:name>/collaborators/remove", views.collaborator_remove,
         name="collaborator-remove"),
    path("apps/<str:name>/destroy", views.app_destroy, name="destroy"),
    path("apps/<str:name>/builds/<int:build_id>/", streams.build_detail, name="build"),
    path("apps/<str:name>/builds/<int:build_id>/cancel", views.build_cancel,
         name="build-cancel"),
    path("apps/<str:name>/builds/<int:build_id>/stream", streams.build_log_stream,
         name="build-stream"),
    path("apps/<str:name>/logs/", streams.app_logs, name="logs"),
    path("apps/<str:name>/logs/stream", streams.app_log_stream, name="logs-stream"),
]
