"""The two families of errors paas reports: a leaf module that every layer may import.

UserError: the user can fix it (bad name, failing build, failing health check). Shown as is.
PlatformError: something in paas or below it failed (Docker down, Redis down). Logged in full,
shown as a short message.
Both carry a stable ``code`` that the API, the CLI and the git receiver report.
"""


class PaasError(Exception):
    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message


class UserError(PaasError):
    code = "user_error"


class PlatformError(PaasError):
    code = "platform_error"


class NotFound(UserError):
    code = "not_found"


class Forbidden(UserError):
    """The user may see the app but not do this to it (a collaborator destroying it)."""

    code = "forbidden"
