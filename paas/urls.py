from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("git/", include("paas.git.urls")),
    path("admin/", admin.site.urls),
    path("", include("webui.urls")),
]
