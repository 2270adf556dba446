"""The runtime tests' web process: says who answered, and can be told to misbehave by config.

GREETING    the greeting (proves config releases and rollback)
HEALTH      "broken" makes /health fail (a failing health check)
Drains on SIGTERM: stops accepting, finishes the requests in flight, then exits.
"""

import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body in one write: separate small writes meet delayed ACKs (40 ms each).
    wbufsize = 65536
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/health":
            broken = os.environ.get("HEALTH") == "broken"
            self.reply(500 if broken else 200, "broken\n" if broken else "ok\n")
            return
        greeting = os.environ.get("GREETING", "Hello")
        self.reply(200, f"{greeting} from {os.environ.get('DYNO')} of "
                        f"v{os.environ.get('PAAS_RELEASE')}\n")

    def do_HEAD(self):
        self.reply(200, "")

    def reply(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight
    block_on_close = True


server = Server(("0.0.0.0", int(os.environ["PORT"])), Handler)


def drain(*_):
    print("web: SIGTERM, draining", flush=True)
    threading.Thread(target=server.shutdown, daemon=True).start()


signal.signal(signal.SIGTERM, drain)
print(f"web: listening on {os.environ['PORT']} as {os.environ.get('DYNO')}", flush=True)
server.serve_forever()
server.server_close()
print("web: drained", flush=True)
