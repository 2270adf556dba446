"""A small JSON client for the paas API: bearer token, one-line errors."""

import json
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from paas.ttyframes import UPGRADE_PROTOCOL

MAX_HEAD_BYTES = 64 * 1024


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

    def upgrade(self, path: str, body: Any) -> tuple[socket.socket, bytes]:
        """POST ``body`` to ``path`` asking to switch the connection to an interactive
        session (``paas.ttyframes``); return the connection and what the server sent after
        its ``101 Switching Protocols``. Raises ApiError with the server's error otherwise.

        By hand rather than with requests, which cannot give a connection back after the
        answer: the session is the rest of this connection.
        """
        url = urlsplit(self.base + path)
        payload = json.dumps(body).encode()
        host = url.hostname or "localhost"
        port = url.port or (443 if url.scheme == "https" else 80)
        target = url.path + (f"?{url.query}" if url.query else "")
        head = [f"POST {target} HTTP/1.1", f"Host: {url.netloc}",
                "Connection: Upgrade", f"Upgrade: {UPGRADE_PROTOCOL}",
                "Content-Type: application/json", f"Content-Length: {len(payload)}",
                *(f"{name}: {value!s}" for name, value in self.session.headers.items()
                  if name.lower() in ("authorization", "user-agent"))]
        try:
            sock = socket.create_connection((host, port), timeout=10)
            if url.scheme == "https":
                # The CAs requests would trust (REQUESTS_CA_BUNDLE for a private CA).
                context = ssl.create_default_context(cafile=_ca_bundle())
                sock = context.wrap_socket(sock, server_hostname=host)
            sock.sendall("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + payload)
            # Opening the session may start a container: give it the API's time.
            sock.settimeout(self.timeout)
            status, headers, rest = _read_head(sock)
        except OSError as error:
            raise ApiError(f"cannot reach {self.base}: {type(error).__name__}",
                           code="unreachable") from None
        if status == 101:
            sock.settimeout(None)
            return sock, rest
        try:
            body_bytes = _read_body(sock, headers, rest)
        except OSError:
            body_bytes = b""
        finally:
            sock.close()
        raise _error_from_body(status, body_bytes)
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


def _ca_bundle() -> str | None:
    """The CA file requests would use from the environment (None: the system's CAs)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def _read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, the bytes after them) of an HTTP answer."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk or len(received) > MAX_HEAD_BYTES:
            raise ConnectionError("the server's answer ended early")
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"not an HTTP answer: {status_line[:80]!r}")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers, rest


def _read_body(sock: socket.socket, headers: dict[str, str], received: bytes) -> bytes:
    length = int(headers.get("content-length", "0") or 0)
    while len(received) < min(length, MAX_HEAD_BYTES):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received[:length]


def _error_from_body(status: int, body: bytes) -> ApiError:
    try:
        error = json.loads(body)["error"]
        return ApiError(error["message"], error["code"], status)
    except (ValueError, KeyError, TypeError):
        return ApiError(f"the server answered HTTP {status}", code="http_error", status=status)


def _error_from(response: requests.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(error["message"], error["code"], response.status_code)
    except (ValueError, KeyError, TypeError):
        return ApiError(f"the server answered HTTP {response.status_code}",
                        code="http_error", status=response.status_code)
