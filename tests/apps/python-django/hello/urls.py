"""One view that answers the router's GET /."""

from django.http import HttpResponse
from django.urls import path


def index(request):
    return HttpResponse("Hello from python-django\n", content_type="text/plain")


urlpatterns = [path("", index)]
