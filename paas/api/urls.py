from django.urls import path

from paas.api import account_views, cert_views, service_views, views

app_name = "api"

urlpatterns = [
    path("openapi.json", views.openapi, name="openapi"),
    path("whoami", views.whoami_view, name="whoami"),
    # accounts: password login, tokens, users
    path("login", account_views.login_view, name="login"),
    path("tokens", account_views.tokens_view, name="tokens"),
    path("tokens/<str:token>", account_views.token_view, name="token"),
    path("users", account_views.users_view, name="users"),
    path("users/<str:username>", account_views.user_view, name="user"),
    # the machines apps run on (superusers only)
    path("nodes", account_views.nodes_view, name="nodes"),
    path("nodes/join-command", account_views.join_command_view, name="join-command"),
    # the control plane's certificate at PAAS_CONTROL_DOMAIN (superusers only)
    path("platform/certs", cert_views.platform_certs_view, name="platform-certs"),
    path("apps", views.apps_view, name="apps"),
    path("apps/<str:name>", views.app_view, name="app"),
    path("apps/<str:name>/config", views.config_view, name="config"),
    path("apps/<str:name>/formation", views.formation_view, name="formation"),
    path("apps/<str:name>/formation/<str:process_type>", views.formation_type_view,
         name="formation-type"),
    path("apps/<str:name>/volumes", views.volumes_view, name="volumes"),
    path("apps/<str:name>/volumes/<str:volume>", views.volume_view, name="volume"),
    path("apps/<str:name>/build-cache", views.build_cache_view, name="build-cache"),
    path("apps/<str:name>/actions/<str:action_id>", views.action_view, name="action"),
    path("apps/<str:name>/actions/<str:action_id>/log", views.action_log_view,
         name="action-log"),
    path("apps/<str:name>/run", views.run_view, name="run"),
    path("apps/<str:name>/logs", views.logs_view, name="logs"),
    path("apps/<str:name>/releases", views.releases_view, name="releases"),
    path("apps/<str:name>/rollback", views.rollback_view, name="rollback"),
    path("apps/<str:name>/builds", views.builds_view, name="builds"),
    path("apps/<str:name>/builds/<int:build_id>", views.build_view, name="build"),
    path("apps/<str:name>/builds/<int:build_id>/log", views.build_log_view, name="build-log"),
    path("apps/<str:name>/builds/<int:build_id>/cancel", views.build_cancel_view,
         name="build-cancel"),
    path("apps/<str:name>/domains", views.domains_view, name="domains"),
    path("apps/<str:name>/domains/<str:hostname>", views.domain_view, name="domain"),
    path("apps/<str:name>/certs", cert_views.certs_view, name="certs"),
    path("apps/<str:name>/certs/hsts", cert_views.hsts_view, name="certs-hsts"),
    path("apps/<str:name>/collaborators", views.collaborators_view, name="collaborators"),
    path("apps/<str:name>/collaborators/<str:username>", views.collaborator_view,
         name="collaborator"),
    path("apps/<str:name>/links", views.links_view, name="links"),
    path("apps/<str:name>/links/<str:target>", views.link_view, name="link"),
    # backing services (PostgreSQL, Redis), linked to apps as DATABASE_URL / REDIS_URL
    path("services", service_views.services_view, name="services"),
    path("services/<str:name>", service_views.service_view, name="service"),
    path("services/<str:name>/restart", service_views.service_restart_view,
         name="service-restart"),
    path("services/<str:name>/links", service_views.service_links_view, name="service-links"),
    path("services/<str:name>/links/<str:app>", service_views.service_link_view,
         name="service-link"),
]
