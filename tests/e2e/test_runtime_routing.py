"""The router against the real stack: a deploy, a scale and a rollback change its route table
without reloading nginx, on the client's kept-alive connection; a new app or domain reloads."""

import http.client

import pytest

from tests.e2e.runtime_support import routed_upstreams, router_workers
from tests.e2e.stack import unique_app_name


@pytest.fixture(scope="module")
def routed_app(stack, tmp_path_factory):
    """runtime-app pushed once, with the router's workers from just before the push."""
    workers = router_workers(stack)
    app = unique_app_name("route")
    repo = stack.checkout("runtime-app", tmp_path_factory.mktemp("route"))
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    return app, workers


def done(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()[-1]


class KeptConnection:
    """One HTTP/1.1 connection to the router, reused for every request."""

    def __init__(self, stack, app: str) -> None:
        self.host = f"{app}.localhost"
        self.connection = http.client.HTTPConnection("127.0.0.1", stack.router_port,
                                                     timeout=10)
        self.local_ports: set[int] = set()

    def get(self) -> str:
        self.connection.request("GET", "/", headers={"Host": self.host})
        answer = self.connection.getresponse()
        body = answer.read().decode()
        assert answer.status == 200, (answer.status, body)
        assert answer.getheader("Connection") != "close"
        # http.client reconnects on its own after a close: count the connections it used.
        self.local_ports.add(self.connection.sock.getsockname()[1])
        return body


def test_a_new_app_reloads_the_router_and_is_served(stack, routed_app):
    app, workers_before_push = routed_app
    assert router_workers(stack).isdisjoint(workers_before_push)
    assert stack.get(app).body == "Hello from web.1 of v1\n"


def test_a_redeploy_a_scale_and_a_rollback_do_not_reload_the_router(stack, routed_app):
    app, _ = routed_app
    workers = router_workers(stack)
    client = KeptConnection(stack, app)
    assert client.get() == "Hello from web.1 of v1\n"

    assert done(stack.paas("config:set", "GREETING=Hey", "-a", app)) == "done, v2"
    assert client.get() == "Hey from web.1 of v2\n"
    assert done(stack.paas("ps:scale", "web=2", "-a", app)).startswith("done, now web=2")
    assert len(routed_upstreams(stack, app)) == 2
    assert {client.get() for _ in range(8)} == {"Hey from web.1 of v2\n",
                                               "Hey from web.2 of v2\n"}
    assert done(stack.paas("rollback", "v1", "-a", app)) == "done, v3"
    assert {client.get() for _ in range(8)} == {"Hello from web.1 of v3\n",
                                               "Hello from web.2 of v3\n"}
    assert done(stack.paas("ps:scale", "web=1", "-a", app)).startswith("done, now web=1")
    assert client.get() == "Hello from web.1 of v3\n"

    assert router_workers(stack) == workers
    assert len(client.local_ports) == 1, "the router closed the client's connection"
    client.connection.close()


def test_a_new_domain_reloads_the_router_and_is_served(stack, routed_app):
    app, _ = routed_app
    workers = router_workers(stack)
    domain = f"{app}.example.com"

    added = stack.paas("domains:add", domain, "-a", app)

    assert added.returncode == 0, added.stderr
    assert router_workers(stack).isdisjoint(workers)
    connection = http.client.HTTPConnection("127.0.0.1", stack.router_port, timeout=10)
    connection.request("GET", "/", headers={"Host": domain})
    answer = connection.getresponse()
    assert (answer.status, answer.read().decode()) == (200, "Hello from web.1 of v3\n")
    connection.close()
