"""A small JSON client for the paas API: bearer token, one-line errors."""

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import requests


class ApiError(Exception):
    """The API refused (with its code and message) or could not be reached."""

    def __init__(self, message: str, code: str = "error", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class Client:
    def __init__(self, url: str, token: str, timeout: float = 600) -> None:
        self.base = url.rstrip("/") + "/api"
        self.session = requests.Session()
        if token:  # none for POST /api/login, which hands one out
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["User-Agent"] = "paas-cli"
        # Deploys are queued (the CLI asks for 202 and follows their log), but a slow server
        # may still take a while to answer.
        self.timeout = timeout

    def app_path(self, app: str, *parts: str) -> str:
        return "/".join(["/apps", quote(app, safe=""), *(quote(p, safe="") for p in parts)])

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None, **params: Any) -> Any:
        """Send one request; return its JSON. Raises ApiError."""
        response = self._send(method, path, body, params, stream=False, headers=headers)
        return response.json()

    def stream(self, path: str, **params: Any) -> Iterator[str]:
        """The lines of a text endpoint (logs), as they arrive. Raises ApiError."""
        response = self._send("GET", path, None, params, stream=True)
        response.encoding = "utf-8"
        pending = ""
        with response:
            for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
                pending += chunk
                *lines, pending = pending.split("\n")
                for line in lines:
                    # The server sends "\r" alone as a keep-alive while a followed log idles.
                    yield line.lstrip("\r")
        if pending.lstrip("\r"):
            yield pending.lstrip("\r")

    def download(self, path: str, write: Callable[[bytes], Any],
                 **params: Any) -> dict[str, str]:
        """Hand a file endpoint's body to ``write`` in chunks as it arrives; return the
        response's headers, their names in lower case. Raises ApiError."""
        response = self._send("GET", path, None, params, stream=True)
        with response:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                write(chunk)
        return {name.lower(): value for name, value in response.headers.items()}

    def _send(self, method: str, path: str, body: Any, params: dict,
              stream: bool, headers: dict[str, str] | None = None) -> requests.Response:
        url = self.base + path
        try:
            # A followed log may stay quiet for long: no read timeout while streaming.
            timeout = (10, None) if stream else self.timeout
            response = self.session.request(method, url, json=body, params=params or None,
                                            timeout=timeout, stream=stream, headers=headers)
        except requests.RequestException as error:
            raise ApiError(f"cannot reach {self.base}: {type(error).__name__}",
                           code="unreachable") from None
        if response.status_code >= 400:
            raise _error_from(response)
        return response


def _error_from(response: requests.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(error["message"], error["code"], response.status_code)
    except (ValueError, KeyError, TypeError):
        return ApiError(f"the server answered HTTP {response.status_code}",
                        code="http_error", status=response.status_code)
