"""A small static file server for paas static sites (python3 stdlib only; the stack has no nginx).

The platform's nginx router sits in front of it, so this server's job is to be correct and safe,
not to be a CDN: one thread per connection, no directory listings, dotfiles and the buildpack's
own files hidden, ETag/Last-Modified revalidation, Cache-Control, a custom 404.html, HEAD, access
logs on stdout, and a clean exit on SIGTERM. ``python3 -m http.server`` has none of the hiding,
lists directories and exits on the first signal with a traceback.

Environment: PORT (default 5000), STATIC_ROOT (default: the directory above .paas, i.e. /app),
STATIC_MAX_AGE seconds for Cache-Control (default 60).
"""

import email.utils
import hashlib
import http.server
import os
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(os.environ.get("STATIC_ROOT") or Path(__file__).resolve().parents[2]).resolve()
MAX_AGE = int(os.environ.get("STATIC_MAX_AGE", "60"))
# Files that belong to the platform, not the site.
HIDDEN_NAMES = {"Procfile", "app.json", "buildpack.json"}


class StaticHandler(http.server.SimpleHTTPRequestHandler):
    server_version = "paas-static/1"
    protocol_version = "HTTP/1.1"  # keep-alive to the router

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(ROOT), **kwargs)

    def _hidden(self) -> bool:
        parts = [p for p in self.path.split("?", 1)[0].split("#", 1)[0].split("/") if p]
        return any(p.startswith(".") or p in HIDDEN_NAMES for p in parts)

    def send_head(self):
        if self._hidden():
            return self._not_found()
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?", 1)[0].endswith("/"):
                return super().send_head()  # redirect to the slash form
            path = path / "index.html"
        if not path.is_file():
            return self._not_found()
        stat = path.stat()
        digest = hashlib.sha1(f"{stat.st_mtime_ns}-{stat.st_size}".encode()).hexdigest()[:16]
        etag = f'"{digest}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        handle = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(stat.st_size))
        self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        self.send_header("ETag", etag)
        self.send_header("Cache-Control", f"public, max-age={MAX_AGE}")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        return handle

    def _not_found(self):
        page = ROOT / "404.html"
        body = page.read_bytes() if page.is_file() else b"Not Found\n"
        self.send_response(404)
        self.send_header("Content-Type", "text/html" if page.is_file() else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return None

    def list_directory(self, path):
        return self._not_found()

    def log_message(self, format, *args):
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def main() -> None:
    port = int(os.environ.get("PORT", "5000"))
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), StaticHandler)
    server.daemon_threads = True

    def stop(signum, frame):
        # shutdown() blocks until serve_forever returns, so call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"paas-static serving {ROOT} on port {port}", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
