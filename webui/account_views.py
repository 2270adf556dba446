"""Dashboard pages for accounts: each user's API tokens, and users (superusers only).

A new token or one-time password is shown in the answer to the POST that made it, never put
in a message: messages may travel in a cookie, and a secret must not.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from paas.core import accounts
from paas.errors import PaasError


def _expiry_days(raw: str) -> int | None:
    """The form's "expires in days" field: empty means never. Raises UserError."""
    raw = raw.strip()
    if not raw:
        return None
    return accounts.validate_expiry_days(int(raw) if raw.isdigit() else raw)


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """Your tokens; a POST creates one and shows it this once."""
    context: dict = {}
    status = 200
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        try:
            record, key = accounts.issue_token(request.user, name,
                                               _expiry_days(request.POST.get("expires_in", "")))
        except PaasError as error:
            messages.error(request, str(error))
            status = 400
        else:
            context["new_token"] = {"name": record.name, "key": key}
            status = 201
    context["tokens"] = accounts.list_tokens(request.user)
    return render(request, "webui/tokens.html", context, status=status)


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    try:
        revoked = accounts.revoke_token(request.user, request.POST.get("name", ""))
    except PaasError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Revoked token {revoked.name}: it authenticates nothing "
                                  "from now on.")
    return redirect("webui:tokens")


def _superuser_or_404(request: HttpRequest) -> None:
    # Like an app that is not yours: a plain user is not told the page exists.
    if not request.user.is_superuser:
        raise Http404("no such page")


@login_required
@require_GET
def users(request: HttpRequest) -> HttpResponse:
    _superuser_or_404(request)
    return render(request, "webui/users.html", {"users": accounts.list_users(request.user)})


@login_required
@require_POST
def user_create(request: HttpRequest) -> HttpResponse:
    _superuser_or_404(request)
    context: dict = {}
    status = 201
    try:
        created = accounts.create_user(request.user, request.POST.get("username", "").strip(),
                                       request.POST.get("email", "").strip())
    except PaasError as error:
        messages.error(request, str(error))
        status = 400
    else:
        context["new_user"] = {"username": created.user.get_username(),
                               "password": created.password}
    context["users"] = accounts.list_users(request.user)
    return render(request, "webui/users.html", context, status=status)


@login_required
@require_POST
def user_set_active(request: HttpRequest) -> HttpResponse:
    _superuser_or_404(request)
    username = request.POST.get("username", "")
    active = request.POST.get("active") == "1"
    try:
        accounts.set_user_active(request.user, username, active)
    except PaasError as error:  # Forbidden too: deactivating yourself
        messages.error(request, str(error))
    else:
        messages.success(request, f"{username} is {'active' if active else 'deactivated'}.")
    return redirect("webui:users")
