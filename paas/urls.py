from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("git/", include("paas.git.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("paas.api.urls")),
    # gunicorn serves the dashboard's few static files itself (collected by `make up`): no
    # extra web server or dependency for a handful of small, cacheable files.
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}),
    path("", include("webui.urls")),
]
