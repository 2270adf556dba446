"""The git receiver's bounds against the real git client and raw HTTP, on a stack with small
limits: oversized pushes and objects, truncated and garbage packs, a stalled client, refs that
read as options; and the force-push policy (a force push to the deploy branch deploys the new
commit). Every refusal leaves the server's refs as they were."""

import base64
import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, cli_error, commit_all, git, unique_app_name

MAX_PUSH_BYTES = 2 * 1024 * 1024
MAX_OBJECT_BYTES = 1024 * 1024


@pytest.fixture(scope="module")
def limited():
    """A stack of its own, with bounds small enough to reach in a test."""
    running = Stack.create(PAAS_MAX_PUSH_BYTES=str(MAX_PUSH_BYTES),
                           PAAS_MAX_OBJECT_BYTES=str(MAX_OBJECT_BYTES),
                           PAAS_GIT_READ_TIMEOUT="3")
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def feature(limited, tmp_path):
    """An app whose repository holds a ``feature`` branch (stored, never built)."""
    app = unique_app_name("limits")
    repo = limited.checkout("dockerfile-hello", tmp_path)
    git(repo, "checkout", "-q", "-b", "feature")
    pushed = limited.push(repo, app, "feature")
    assert pushed.returncode == 0, pushed.stderr
    return app, repo


def server_refs(stack: Stack, app: str) -> str:
    return subprocess.run(["git", "--git-dir", str(stack.home / "repos" / f"{app}.git"),
                           "for-each-ref"], capture_output=True, text=True).stdout


def test_it_refuses_a_push_larger_than_the_bound(limited, feature):
    app, repo = feature
    before = server_refs(limited, app)
    (repo / "big.bin").write_bytes(os.urandom(MAX_PUSH_BYTES + 512 * 1024))
    commit_all(repo, "too big to push")

    pushed = limited.push(repo, app, "feature")

    assert pushed.returncode != 0
    assert "PAAS_MAX_PUSH_BYTES" in pushed.stderr, pushed.stderr
    assert server_refs(limited, app) == before


def test_it_refuses_an_object_larger_than_the_bound(limited, feature):
    app, repo = feature
    before = server_refs(limited, app)
    # Zeros compress to almost nothing: the push is small, the object is not.
    (repo / "zeros.bin").write_bytes(b"\0" * (MAX_OBJECT_BYTES + 1024))
    commit_all(repo, "one object too big")

    pushed = limited.push(repo, app, "feature")

    assert pushed.returncode != 0
    assert "PAAS_MAX_OBJECT_BYTES" in pushed.stderr, pushed.stderr
    assert server_refs(limited, app) == before


def test_it_refuses_a_ref_that_reads_as_an_option(limited, feature):
    app, repo = feature
    before = server_refs(limited, app)

    pushed = limited.push(repo, app, "HEAD:refs/heads/-rf")

    assert pushed.returncode != 0
    assert "invalid ref name" in pushed.stderr, pushed.stderr
    assert server_refs(limited, app) == before


def _pkt(line: bytes) -> bytes:
    return f"{len(line) + 4:04x}".encode() + line


def _receive_pack_request(stack: Stack, app: str, body: bytes) -> bytes:
    """POST ``body`` to the app's git-receive-pack with the admin's token; the raw answer."""
    credentials = base64.b64encode(f"{stack.username}:{stack.token}".encode()).decode()
    head = (f"POST /git/{app}.git/git-receive-pack HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{stack.control_port}\r\n"
            f"Authorization: Basic {credentials}\r\n"
            "Content-Type: application/x-git-receive-pack-request\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    return _exchange(stack, head + body)


def _exchange(stack: Stack, data: bytes) -> bytes:
    """Send ``data``, then nothing more, and read the answer until the server closes the
    connection."""
    with socket.create_connection(("127.0.0.1", stack.control_port)) as connection:
        # A bound on the test itself, never an assertion: the server answers long before.
        connection.settimeout(300)
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def _command(repo: Path, ref: str = "refs/heads/feature") -> tuple[bytes, str]:
    """A push command moving ``ref`` to a new local commit, and that commit."""
    old = git(repo, "rev-parse", "HEAD")
    (repo / "change.txt").write_text(os.urandom(8).hex())
    new = commit_all(repo, "a change")
    return _pkt(f"{old} {new} {ref}\0report-status\n".encode()) + b"0000", new


def _pack(repo: Path, new: str) -> bytes:
    old = git(repo, "rev-parse", f"{new}~1")
    return subprocess.run(["git", "pack-objects", "--stdout", "--revs", "-q"],
                          input=f"{new}\n^{old}\n".encode(), cwd=repo,
                          capture_output=True, check=True).stdout


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_it_refuses_a_truncated_or_garbage_pack(limited, feature, damage):
    app, repo = feature
    before = server_refs(limited, app)
    command, new = _command(repo)
    pack = _pack(repo, new)
    body = command + (pack[: len(pack) // 2] if damage == "truncated"
                      else b"PACK\0\0\0\2\0\0\0\7" + os.urandom(4096))

    answer = _receive_pack_request(limited, app, body)

    assert b" 200 OK" in answer.split(b"\r\n", 1)[0]
    assert b"unpack " in answer and b"unpack ok" not in answer, answer
    assert b"ok refs/heads/feature" not in answer
    assert server_refs(limited, app) == before


def test_a_stalled_client_is_cut_off_and_moves_no_ref(limited, feature):
    app, repo = feature
    before = server_refs(limited, app)
    command, new = _command(repo)
    pack = _pack(repo, new)
    credentials = base64.b64encode(f"{limited.username}:{limited.token}".encode()).decode()
    head = (f"POST /git/{app}.git/git-receive-pack HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{limited.control_port}\r\n"
            f"Authorization: Basic {credentials}\r\n"
            "Content-Type: application/x-git-receive-pack-request\r\n"
            f"Content-Length: {len(command) + len(pack)}\r\nConnection: close\r\n\r\n"
            ).encode()

    # Headers and half the body, then silence: the server's read timeout (3 s) ends it.
    answer = _exchange(limited, head + command + pack[: len(pack) // 2])

    assert b"ok refs/heads/feature" not in answer
    assert b"stopped sending" in answer, answer
    assert server_refs(limited, app) == before
    # And the app's next push goes through: nothing was left holding it.
    pushed = limited.push(repo, app, "feature")
    assert pushed.returncode == 0, pushed.stderr
    assert limited.server_ref(app, "feature") == new


def test_a_force_push_to_the_deploy_branch_deploys_the_new_commit(limited, tmp_path):
    app = unique_app_name("force")
    repo = limited.checkout("dockerfile-hello", tmp_path)
    first = limited.push(repo, app, "main")
    assert first.returncode == 0, first.stderr
    # Rewrite history: the new commit does not descend from the deployed one.
    server = repo / "server.py"
    server.write_text(server.read_text().replace("from dockerfile-hello", "from rewritten"))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=paas tests", "-c", "user.email=tests@paas.invalid",
        "commit", "-q", "--amend", "-m", "rewritten")
    rewritten = git(repo, "rev-parse", "HEAD")

    plain = limited.push(repo, app, "main")
    assert plain.returncode != 0  # git itself refuses a non-fast-forward without --force
    forced = subprocess.run(["git", "push", "--force", limited.remote(app), "main"], cwd=repo,
                            capture_output=True, text=True, timeout=1200)

    assert forced.returncode == 0, forced.stderr
    assert limited.server_ref(app) == rewritten
    assert "from rewritten" in limited.wait_for_answer(app, "from rewritten").body


def test_a_config_value_reaches_the_container_verbatim_and_runs_nothing(limited, tmp_path):
    app = unique_app_name("verbatim")
    repo = limited.checkout("dockerfile-hello", tmp_path)
    assert limited.push(repo, app, "main").returncode == 0
    payload = "$(touch /tmp/pwned) `touch /tmp/pwned` ${HOME}"
    marker = Path("/tmp/pwned")
    existed = marker.exists()

    changed = limited.paas("config:set", f"PAYLOAD={payload}", "-a", app)
    assert changed.returncode == 0, changed.stderr
    ran = limited.paas("run", "-a", app, "--", "sh", "-c",
                       'printenv PAYLOAD; test -e /tmp/pwned && echo PWNED || echo clean')

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-2:] == [payload, "clean"]
    assert marker.exists() == existed  # nor on the host


def test_it_refuses_to_route_another_apps_address_to_an_app(limited, feature, tmp_path):
    app, repo = feature
    victim = unique_app_name("victim")
    assert limited.push(repo, victim, "feature").returncode == 0

    added = limited.paas("domains:add", f"{victim}.localhost", "-a", app)

    assert cli_error(added)[1] == "domain_taken"
    assert limited.api("GET", f"/apps/{app}/domains").json() == []
    routes = " ".join(path.read_text()
                      for path in (limited.home / "nginx" / "apps").glob("*.conf"))
    assert f"{victim}.localhost" not in routes


def test_a_thin_pack_deltified_against_the_servers_objects_is_stored(limited, feature):
    app, repo = feature
    server = repo / "server.py"
    # A large file changed by one line: git sends it as a delta against the server's copy.
    server.write_text(server.read_text() + "# padding\n" * 2000)
    commit_all(repo, "a big file")
    assert limited.push(repo, app, "feature").returncode == 0
    server.write_text(server.read_text() + "# one more line\n")
    changed = commit_all(repo, "one more line")

    pushed = limited.push(repo, app, "feature")

    assert pushed.returncode == 0, pushed.stderr
    assert limited.server_ref(app, "feature") == changed
    fsck = subprocess.run(["git", "--git-dir", str(limited.home / "repos" / f"{app}.git"),
                           "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    assert not list((limited.home / "repos" / f"{app}.git" / "objects").glob("incoming-*"))
