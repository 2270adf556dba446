"""The router's live route table against a real nginx (no paas stack, no Docker): the
control socket, round robin and retries, 503s, and starting again after a kill.

The backends are small HTTP servers on loopback that say who they are.
"""

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from paas.procfs import children
from paas.router.nginx import AppRoute, Router, accepting_workers
from tests.e2e.stack import free_port


class Backend(ThreadingHTTPServer):
    """Answers every GET with its name (or with ``status``), keeping connections alive."""

    daemon_threads = True

    def __init__(self, name: str, status: int = 200, on_request=None,
                 host: str = "127.0.0.1") -> None:
        self.name, self.status, self.on_request = name, status, on_request

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(handler) -> None:
                if self.on_request:
                    self.on_request()
                body = f"{self.name}\n".encode()
                handler.send_response(self.status)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args) -> None:
                pass

        super().__init__((host, 0), Handler)
        # Where the router reaches it, as a container's address on its network would be.
        self.upstream = f"{host}:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def backends():
    # "two" listens on another address than loopback's usual one: routes name addresses.
    servers = {"one": Backend("one"), "two": Backend("two", host="127.0.0.2")}
    servers["broken"] = Backend("broken", status=502)
    yield servers
    for server in servers.values():
        server.shutdown()


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    home = tmp_path_factory.mktemp("router")
    router = Router(nginx_dir=home / "nginx", log_dir=home / "logs", run_dir=home / "run",
                    port=free_port())
    router.write_main_config()
    start(router)
    yield router
    if router.is_running():
        os.kill(master(router), signal.SIGQUIT)


def start(router: Router) -> None:
    result = router._nginx("-c", str(router.main_config))
    assert result.returncode == 0, result.stderr
    for _ in range(100):
        if router.is_running() and router.control_socket.exists():
            return
        time.sleep(0.05)
    raise AssertionError("nginx did not start")


def master(router: Router) -> int:
    return int(router.pid_file.read_text())


def get(connection: http.client.HTTPConnection, host: str) -> tuple[int, str]:
    connection.request("GET", "/", headers={"Host": host})
    answer = connection.getresponse()
    return answer.status, answer.read().decode()


def control(router: Router, method: str, path: str, body: str | None = None) -> tuple[int, str]:
    """A raw request to the control socket, as any client could send it."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(router.control_socket))
    connection = http.client.HTTPConnection("localhost")
    connection.sock = sock
    connection.request(method, path, body=body)
    answer = connection.getresponse()
    text = answer.read().decode()
    connection.close()
    return answer.status, text


def test_a_route_switches_on_a_kept_connection_without_a_reload(router, backends):
    router.set_route(AppRoute("shop", ("shop.localhost",), (backends["one"].upstream,)))
    workers = accepting_workers(master(router))
    connection = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    assert get(connection, "shop.localhost") == (200, "one\n")
    local_port = connection.sock.getsockname()[1]

    router.set_route(AppRoute("shop", ("shop.localhost",), (backends["two"].upstream,)))

    assert get(connection, "shop.localhost") == (200, "two\n")
    assert connection.sock.getsockname()[1] == local_port  # the same client connection
    assert accepting_workers(master(router)) == workers
    connection.close()


def test_requests_take_turns_and_a_502_is_retried_on_another_instance(router, backends):
    router.set_route(AppRoute("shop", ("shop.localhost",),
                              (backends["one"].upstream, backends["broken"].upstream,
                               backends["two"].upstream)))
    connection = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    answers = [get(connection, "shop.localhost") for _ in range(12)]
    connection.close()
    assert {status for status, _ in answers} == {200}
    assert {body for _, body in answers} == {"one\n", "two\n"}


def test_a_retry_goes_to_the_route_that_replaced_the_one_the_request_started_with(router,
                                                                                 backends):
    # Each old instance switches the app to "two" (as a deploy would), then fails with a
    # 502, as an instance going away might: the retry must not go to the other old one.
    def switch() -> None:
        router.set_route(AppRoute("shop", ("shop.localhost",), (backends["two"].upstream,)))

    leaving = [Backend(f"leaving-{n}", status=502, on_request=switch) for n in (1, 2)]
    try:
        router.set_route(AppRoute("shop", ("shop.localhost",),
                                  tuple(server.upstream for server in leaving)))
        connection = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
        assert get(connection, "shop.localhost") == (200, "two\n")
        connection.close()
    finally:
        for server in leaving:
            server.shutdown()


def test_an_app_without_upstreams_answers_503_and_an_unknown_host_404(router):
    router.set_route(AppRoute("idle", ("idle.localhost",), ()))
    connection = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    assert get(connection, "idle.localhost") == (
        503, "paas: app idle has no running web processes\n")
    assert get(connection, "nobody.localhost") == (
        404, "paas: no app is deployed at this address\n")
    connection.close()


INVALID = "invalid upstream"
UPSTREAM_FORM = "use <IPv4 address>:<port>, the port a whole number from 1 to 65535"
SEPARATED = "a route is a generation and upstreams separated by single spaces"


@pytest.mark.parametrize("path, body, answer", [
    ("/routes/Shop", "0123456789ab 80", (400, "invalid_app_name: invalid app name\n")),
    ("/routes/shop;x", "0123456789ab 80", (400, "invalid_app_name: invalid app name\n")),
    ("/routes/shop", "0123456789ab 10.1.0.2:0", (400, f"invalid_route: {INVALID} 10.1.0.2:0: "
                                                     f"{UPSTREAM_FORM}\n")),
    ("/routes/shop", "0123456789ab 65536", (400, f"invalid_route: {INVALID} 65536: "
                                                 f"{UPSTREAM_FORM}\n")),
    ("/routes/shop", "0123456789ab 10.1.0.256:80", (400, f"invalid_route: {INVALID} "
                                                         f"10.1.0.256:80: {UPSTREAM_FORM}\n")),
    ("/routes/shop", "0123456789ab 010.1.0.2:80", (400, f"invalid_route: {INVALID} "
                                                        f"010.1.0.2:80: {UPSTREAM_FORM}\n")),
    ("/routes/shop", "0123456789ab 10.1.0.2:80 10.1.0.2:80",
     (400, "invalid_route: upstream 10.1.0.2:80 is listed twice\n")),
    ("/routes/shop", "0123456789ab 80 127.0.0.1:80",
     (400, "invalid_route: upstream 127.0.0.1:80 is listed twice\n")),
    ("/routes/shop", "0123456789ab 8o",
     (400, f"invalid_route: {SEPARATED}\n")),
    ("/routes/shop", "0123456789ab shop:80",
     (400, f"invalid_route: {SEPARATED}\n")),
    ("/routes/shop", "xyz 80",
     (400, f"invalid_route: {SEPARATED}\n")),
    ("/routes/shop", "0123456789 80",
     (400, "invalid_route: a route starts with a 12-digit hex generation\n")),
])
def test_the_control_endpoint_refuses_a_bad_route_and_keeps_the_old_one(router, backends,
                                                                        path, body, answer):
    router.set_route(AppRoute("shop", ("shop.localhost",), (backends["one"].upstream,)))
    before = control(router, "GET", "/routes/shop")

    assert control(router, "PUT", path, body) == answer

    assert control(router, "GET", "/routes/shop") == before
    assert router.routed_upstreams("shop") == (backends["one"].upstream,)


def test_no_other_local_user_can_reach_the_control_socket(router):
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    print('refused')\n"
             "else:\n    print('connected')\n")
    result = subprocess.run(["/usr/bin/python3", "-c", probe, str(router.control_socket)],
                            user=65534, group=65534, extra_groups=[], capture_output=True,
                            text=True, timeout=30)
    assert result.stdout.strip() == "refused", result.stderr
    assert oct(router.control_dir.stat().st_mode & 0o777) == "0o700"


def test_after_a_kill_nginx_starts_again_with_the_routes_in_the_file(router, backends):
    router.set_route(AppRoute("shop", ("shop.localhost",), (backends["two"].upstream,)))
    killed = master(router)
    workers = [pid for pid, _ in children(killed)]
    for pid in [killed, *workers]:
        os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not router.is_running() and not any(os.path.exists(f"/proc/{pid}")
                                               for pid in workers):
            break
        time.sleep(0.05)
    assert router.control_socket.exists()  # left behind: nginx could not bind it again

    start(router)

    connection = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    assert get(connection, "shop.localhost") == (200, "two\n")
    connection.close()
    assert router.routed_upstreams("shop") == (backends["two"].upstream,)
