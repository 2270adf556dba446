"""GET / says hello; GET /db/?text=T records a greeting (letters and digits) and lists them
all, as the getting-started app's /db/ page does; GET /db/ lists them without adding."""

import re

from django.http import HttpResponse, HttpResponseBadRequest

from hello.models import Greeting

WORD = re.compile(r"^[A-Za-z0-9]{1,40}$")


def index(request):
    return HttpResponse("Hello from django-postgres\n", content_type="text/plain")


def db(request):
    text = request.GET.get("text")
    if text is not None:
        if not WORD.fullmatch(text):
            return HttpResponseBadRequest("letters and digits only\n")
        Greeting.objects.create(text=text)
    texts = Greeting.objects.order_by("id").values_list("text", flat=True)
    return HttpResponse(",".join(texts) + "\n", content_type="text/plain")
