"""Interactive sessions over the API (`paas run` from a terminal, `<kind>:connect`): the
upgrade, the frames relayed both ways, the exit code at the end, and the same permission rules
as the calls they stand beside. The connection gunicorn would hand over is one end of a
socket pair; the process on the terminal is the fake scheduler's."""

import json
import socket
import threading

import pytest
from django.test import Client

from paas.api.tty import SWITCHING, ConnectionTakenOver, hijack_aware
from paas.core.accounts import create_token
from paas.ttyframes import EXIT, INPUT, OUTPUT, FrameReader, frame, parse_code, resize_frame

pytestmark = pytest.mark.django_db


class Terminal:
    """The client's side of a session: what it types, and what it gets back."""

    def __init__(self, typed: list[bytes], leave_early: bool = False) -> None:
        self.server, self._client = socket.socketpair()
        self.typed = typed
        self.leave_early = leave_early
        self.head = b""
        self.output = b""
        self.exit_code: int | None = None
        self._thread = threading.Thread(target=self._talk, daemon=True)
        self._thread.start()

    def _talk(self) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = self._client.recv(4096)
            if not chunk:
                self.head = received
                return
            received += chunk
        self.head, _, rest = received.partition(b"\r\n\r\n")
        for typed in self.typed:
            self._client.sendall(typed)
        if self.leave_early:
            self._client.close()
            return
        frames = FrameReader()
        while self.exit_code is None:
            for kind, payload in frames.feed(rest):
                if kind == OUTPUT:
                    self.output += payload
                elif kind == EXIT:
                    self.exit_code = parse_code(payload)
            rest = self._client.recv(4096) if self.exit_code is None else b""
            if not rest and self.exit_code is None:
                break

    def join(self) -> "Terminal":
        self._thread.join(timeout=30)
        return self


def upgrade(user, path: str, body: dict, terminal: Terminal | None, **headers):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {create_token(user)}",
             "HTTP_CONNECTION": "Upgrade", "HTTP_UPGRADE": "paas-tty", **headers}
    if terminal is not None:
        extra["gunicorn.socket"] = terminal.server
    return Client().post(f"/api{path}", data=json.dumps(body), content_type="application/json",
                         **extra)


def test_a_collaborator_runs_a_command_on_a_terminal_and_gets_its_exit_code(users, app,
                                                                            platform):
    terminal = Terminal([frame(INPUT, b"echo hi\r"), resize_frame(50, 132),
                         frame(INPUT, b"exit 3\r")])

    response = upgrade(users.collaborator, "/apps/shop/run",
                       {"command": "bash", "rows": 40, "cols": 100, "term": "screen"}, terminal)

    assert isinstance(response, ConnectionTakenOver)
    terminal.join()
    assert terminal.head + b"\r\n\r\n" == SWITCHING
    assert terminal.output == b"run-shop-v1$ echo hi\r\nresized 50x132\r\nexit 3\r\n"
    assert terminal.exit_code == 3
    (session,) = platform.scheduler.sessions
    assert session.argv == ["/bin/sh", "-c", "bash"]
    assert session.terminal.term == "screen" and session.sizes == [(40, 100), (50, 132)]
    assert session.env["PAAS_RELEASE"] == "1"
    assert session.closed  # the one-off container is removed


def test_a_client_that_leaves_ends_the_process(users, app, platform):
    terminal = Terminal([frame(INPUT, b"sleep 1000\r")], leave_early=True)

    upgrade(users.owner, "/apps/shop/run", {"command": "bash"}, terminal)

    terminal.join()
    (session,) = platform.scheduler.sessions
    assert session.closed and session.exit_code is None


def test_an_outsider_is_told_the_app_does_not_exist_before_any_upgrade(users, app, platform):
    terminal = Terminal([])

    response = upgrade(users.outsider, "/apps/shop/run", {"command": "bash"}, terminal)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "app_not_found"
    assert platform.scheduler.sessions == []


def test_a_bad_terminal_size_or_term_is_refused(users, app, platform):
    for body in ({"command": "bash", "rows": 0}, {"command": "bash", "cols": "wide"},
                 {"command": "bash", "term": "x; rm -rf /"}):
        response = upgrade(users.owner, "/apps/shop/run", body, Terminal([]))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_terminal"
    assert platform.scheduler.sessions == []


def test_a_server_that_does_not_hand_out_the_connection_starts_nothing(users, app, platform):
    response = upgrade(users.owner, "/apps/shop/run", {"command": "bash"}, None)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "tty_unavailable"
    assert platform.scheduler.sessions == []


def test_without_the_upgrade_run_answers_as_before(users, app, platform):
    response = upgrade(users.owner, "/apps/shop/run", {"command": "echo hi"}, None,
                       HTTP_UPGRADE="", HTTP_CONNECTION="keep-alive")

    assert response.json() == {"exit_code": 3, "output": "ran echo hi in v1\n"}


def test_a_detached_run_is_queued_and_named(users, app, platform):
    response = Client().post("/api/apps/shop/run", data=json.dumps(
        {"command": "python manage.py migrate", "detach": True}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {create_token(users.collaborator)}")

    assert response.status_code == 202
    name = response.json()["name"]
    assert name.startswith("run.")
    (task, args), = [sent for sent in platform.tasks.sent
                     if sent[0] == "worker.tasks.run_detached"]
    assert args == [app.current_release.pk, "python manage.py migrate", name]


def service(user, kind="postgres", name="db"):
    api = Client()
    created = api.post("/api/services", data=json.dumps({"kind": kind, "name": name}),
                       content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {create_token(user)}")
    assert created.status_code == 201, created.content
    return created.json()


@pytest.mark.parametrize(("kind", "client", "secret"), [("postgres", "psql", "PGPASSWORD"),
                                                        ("redis", "redis-cli", "REDISCLI_AUTH")])
def test_the_owner_connects_to_a_service_signed_in_by_the_environment(users, platform, kind,
                                                                      client, secret):
    url = service(users.owner, kind)["url"]
    terminal = Terminal([frame(INPUT, b"exit 0\n")])

    response = upgrade(users.owner, f"/services/db/connect?kind={kind}", {"rows": 30}, terminal)

    assert isinstance(response, ConnectionTakenOver)
    assert terminal.join().exit_code == 0
    (console,) = platform.services.consoles
    assert console.argv[0] == client
    password = console.env[secret]
    assert password and password in url
    assert not any(password in arg for arg in console.argv)
    assert console.terminal.rows == 30


def test_others_are_told_the_service_does_not_exist(users, platform):
    service(users.owner)
    for user in (users.outsider, users.collaborator):
        response = upgrade(user, "/services/db/connect", {}, Terminal([]))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "service_not_found"
    assert platform.services.consoles == []


def test_connect_without_the_upgrade_says_what_it_needs(users, platform):
    service(users.owner)
    response = upgrade(users.owner, "/services/db/connect", {}, None, HTTP_UPGRADE="")
    assert response.json()["error"]["code"] == "upgrade_required"


def test_a_taken_over_connection_gets_no_second_answer_from_gunicorn():
    closed = []

    class Answer(ConnectionTakenOver):
        def close(self):
            closed.append(True)

    application = hijack_aware(lambda environ, start_response: Answer())
    with pytest.raises(StopIteration):
        application({}, lambda *args: None)
    assert closed == [True]  # Django's request_finished ran
    assert hijack_aware(lambda environ, start_response: [b"ok"])({}, None) == [b"ok"]
