"""The login forms (dashboard and admin), throttled per username and client address."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from paas.core import throttle


class ThrottledLogin:
    """Refuses a sign-in once its username or address failed too often (the check comes
    before the password's, so guessing on gains nothing) and counts each failure."""

    def clean(self):
        username = self.data.get("username", "")
        address = throttle.client_address(self.request.META) if self.request else None
        try:
            throttle.check(username, address)
        except throttle.Throttled as error:
            raise forms.ValidationError(str(error), code="too_many_failures") from None
        try:
            return super().clean()
        except forms.ValidationError:
            try:
                throttle.record_failure(username, address)
            except throttle.Throttled as error:
                raise forms.ValidationError(str(error), code="too_many_failures") from None
            raise


class LoginForm(ThrottledLogin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    pass
