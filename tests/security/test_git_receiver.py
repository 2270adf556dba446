"""The git receiver, driven in process with dulwich's protocol over bytes: bounded pushes,
bounded objects, corrupt and truncated packs, stalled clients, refs git would refuse, and
refs that would point at objects never sent. Every refusal leaves the refs as they were and
nothing of the pack behind."""

import base64
import gzip
import io
import os
from pathlib import Path

import pytest
from dulwich.object_format import SHA1
from dulwich.objects import Blob, Commit, Tree
from dulwich.pack import write_pack_objects
from dulwich.protocol import ReceivableProtocol, pkt_line
from dulwich.repo import Repo

from paas.git.limits import BoundedBody
from paas.git.receiver import DeployingReceivePackHandler, SingleRepoBackend, ensure_repository

pytestmark = pytest.mark.django_db

ZERO = b"0" * 40
BIG = 10 * 1024 * 1024


class Stalls(io.RawIOBase):
    """A client that sends ``data`` and then nothing: the socket read times out."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        chunk = self._data.read(size)
        if not chunk:
            raise TimeoutError("timed out")
        return chunk


def commit_objects(content: bytes, parents: tuple[bytes, ...] = ()) -> list:
    """A blob, a tree holding it and a commit of that tree."""
    blob = Blob.from_string(content)
    tree = Tree()
    tree.add(b"file.txt", 0o100644, blob.id)
    commit = Commit()
    commit.tree = tree.id
    commit.parents = list(parents)
    commit.author = commit.committer = b"Owner <owner@example.com>"
    commit.commit_time = commit.author_time = 1_700_000_000
    commit.commit_timezone = commit.author_timezone = 0
    commit.message = b"change"
    return [blob, tree, commit]


def pack_of(objects: list, compression_level: int = -1) -> bytes:
    out = io.BytesIO()
    write_pack_objects(out.write, [(obj, None) for obj in objects], SHA1,
                       compression_level=compression_level)
    return out.getvalue()


def request(commands: list[tuple[bytes, bytes, bytes]], pack: bytes) -> bytes:
    lines = []
    for index, (old, new, ref) in enumerate(commands):
        caps = b"\x00report-status" if index == 0 else b""
        lines.append(pkt_line(old + b" " + new + b" " + ref + caps + b"\n"))
    return b"".join(lines) + pkt_line(None) + pack


@pytest.fixture
def repo_dir(tmp_path) -> Path:
    path = tmp_path / "shop.git"
    ensure_repository(path)
    return path


def push(repo_dir: Path, app, users, body, limit: int = BIG, max_object_bytes: int = BIG,
         gzipped: bool = False) -> bytes:
    """Run receive-pack over ``body`` (bytes or a stream); return what it answered."""
    stream = io.BytesIO(body) if isinstance(body, bytes) else body
    bounded = BoundedBody(stream, limit, gzipped=gzipped)
    output = io.BytesIO()
    handler = DeployingReceivePackHandler(
        SingleRepoBackend(repo_dir, max_object_bytes), ["/"],
        ReceivableProtocol(bounded.read, output.write), app=app, user=users.owner,
        stateless_rpc=True)
    try:
        handler.handle()
    finally:
        handler.repo.close()
    return output.getvalue()


def refs(repo_dir: Path) -> dict:
    with Repo(str(repo_dir)) as repo:
        return {name: sha for name, sha in repo.get_refs().items() if name != b"HEAD"}


def leftovers(repo_dir: Path) -> list[str]:
    """Temporary or quarantined files a refused push would leave in the object store."""
    objects = repo_dir / "objects"
    return sorted(name for name in os.listdir(objects) if name.startswith("incoming-")) + \
        sorted(name for name in os.listdir(objects / "pack") if name.startswith("tmp_"))


def packs(repo_dir: Path) -> list[str]:
    return sorted(os.listdir(repo_dir / "objects" / "pack"))


@pytest.fixture
def feature(repo_dir, app, users) -> list:
    """A first commit stored on refs/heads/feature."""
    objects = commit_objects(b"first")
    answer = push(repo_dir, app, users,
                  request([(ZERO, objects[-1].id, b"refs/heads/feature")], pack_of(objects)))
    assert b"unpack ok" in answer and b"ok refs/heads/feature" in answer
    return objects


def test_it_stores_a_valid_push_to_another_branch(repo_dir, feature):
    assert refs(repo_dir) == {b"refs/heads/feature": feature[-1].id}
    assert leftovers(repo_dir) == []
    with Repo(str(repo_dir)) as repo:
        assert all(obj.id in repo.object_store for obj in feature)


def refused(repo_dir, app, users, feature, body, expected: bytes, **limits) -> None:
    """Push ``body`` and check it was refused with ``expected`` and changed nothing."""
    before_refs, before_packs = refs(repo_dir), packs(repo_dir)

    answer = push(repo_dir, app, users, body, **limits)

    assert expected in answer, answer
    assert b"ok refs/" not in answer
    assert refs(repo_dir) == before_refs
    assert packs(repo_dir) == before_packs
    assert leftovers(repo_dir) == []


def next_commit(feature, content: bytes = b"second") -> list:
    return commit_objects(content, parents=(feature[-1].id,))


def test_it_refuses_a_push_larger_than_the_bound(repo_dir, app, users, feature):
    objects = next_commit(feature, os.urandom(64 * 1024))
    body = request([(feature[-1].id, objects[-1].id, b"refs/heads/feature")], pack_of(objects))

    refused(repo_dir, app, users, feature, body, b"PAAS_MAX_PUSH_BYTES", limit=16 * 1024)


def test_it_refuses_a_gzip_bomb_by_its_decompressed_size(repo_dir, app, users, feature):
    objects = next_commit(feature, b"\x00" * (4 * 1024 * 1024))
    body = request([(feature[-1].id, objects[-1].id, b"refs/heads/feature")],
                   pack_of(objects, compression_level=0))
    bomb = gzip.compress(body)
    assert len(bomb) < 64 * 1024 < len(body)

    refused(repo_dir, app, users, feature, bomb, b"PAAS_MAX_PUSH_BYTES", limit=64 * 1024,
            gzipped=True)


def test_it_refuses_a_corrupt_gzip_body(repo_dir, app, users, feature):
    objects = next_commit(feature)
    body = gzip.compress(request([(feature[-1].id, objects[-1].id, b"refs/heads/feature")],
                                 pack_of(objects)))

    refused(repo_dir, app, users, feature, body[: len(body) // 2], b"gzip", gzipped=True)


def test_it_refuses_an_object_larger_than_the_bound(repo_dir, app, users, feature):
    objects = next_commit(feature, b"\x00" * (256 * 1024))  # compresses to almost nothing
    body = request([(feature[-1].id, objects[-1].id, b"refs/heads/feature")], pack_of(objects))
    assert len(body) < 64 * 1024

    refused(repo_dir, app, users, feature, body, b"PAAS_MAX_OBJECT_BYTES",
            max_object_bytes=64 * 1024)
    with Repo(str(repo_dir)) as repo:
        assert objects[0].id not in repo.object_store


def test_it_refuses_an_object_too_large_to_inflate_before_inflating_it(repo_dir, app, users,
                                                                        feature):
    # 32 MiB of zeros in a pack of a few KiB: git index-pack (GIT_ALLOC_LIMIT) stops at the
    # allocation, so the web worker never holds the object.
    objects = next_commit(feature, bytes(32 * 1024 * 1024))
    body = request([(feature[-1].id, objects[-1].id, b"refs/heads/feature")], pack_of(objects))
    assert len(body) < 256 * 1024

    refused(repo_dir, app, users, feature, body, b"PAAS_MAX_OBJECT_BYTES",
            max_object_bytes=1024 * 1024)


def test_it_refuses_a_delta_whose_result_is_larger_than_the_bound(repo_dir, app, users,
                                                                   feature):
    base = next_commit(feature, b"line\n" * 5000)
    push(repo_dir, app, users, request([(feature[-1].id, base[-1].id, b"refs/heads/feature")],
                                       pack_of(base)))
    grown = commit_objects(b"line\n" * 5000 + b"more\n" * 20, parents=(base[-1].id,))
    out = io.BytesIO()
    # Deltified against the base blob: the pack holds a small delta, not the whole blob.
    write_pack_objects(out.write, [(obj, None) for obj in base + grown], SHA1, deltify=True)
    body = request([(base[-1].id, grown[-1].id, b"refs/heads/feature")], out.getvalue())

    refused(repo_dir, app, users, feature, body, b"PAAS_MAX_OBJECT_BYTES",
            max_object_bytes=20_000)


@pytest.mark.parametrize("cut", [0.5, 0.95])
def test_it_refuses_a_truncated_pack(repo_dir, app, users, feature, cut):
    objects = next_commit(feature, os.urandom(4096))
    pack = pack_of(objects)
    body = request([(feature[-1].id, objects[-1].id, b"refs/heads/feature")],
                   pack[: int(len(pack) * cut)])

    refused(repo_dir, app, users, feature, body, b"unpack ")


@pytest.mark.parametrize("garbage", [
    b"this is not a pack", b"PACK\x00\x00\x00\x02\x00\x00\x00\x05" + b"\xff" * 200,
    os.urandom(2000),
])
def test_it_refuses_a_garbage_pack(repo_dir, app, users, feature, garbage):
    objects = next_commit(feature)
    body = request([(feature[-1].id, objects[-1].id, b"refs/heads/feature")], garbage)

    refused(repo_dir, app, users, feature, body, b"unpack ")


def test_it_abandons_a_push_whose_client_stalls_mid_pack(repo_dir, app, users, feature):
    objects = next_commit(feature, os.urandom(4096))
    body = request([(feature[-1].id, objects[-1].id, b"refs/heads/feature")], pack_of(objects))

    refused(repo_dir, app, users, feature, Stalls(body[: len(body) // 2]),
            b"stopped sending")


def test_it_abandons_a_push_whose_client_stalls_before_the_pack(repo_dir, app, users,
                                                                 feature):
    objects = next_commit(feature)
    body = request([(feature[-1].id, objects[-1].id, b"refs/heads/feature")], b"")

    refused(repo_dir, app, users, feature, Stalls(body[:30]), b"stopped sending")


def test_it_refuses_a_branch_pointing_at_objects_never_sent(repo_dir, app, users, feature):
    ghost = next_commit(feature)
    body = request([(ZERO, ghost[-1].id, b"refs/heads/ghost")], pack_of([]))

    refused(repo_dir, app, users, feature, body, b"were not pushed")


def test_it_refuses_a_commit_whose_tree_was_never_sent(repo_dir, app, users, feature):
    objects = next_commit(feature)
    body = request([(ZERO, objects[-1].id, b"refs/heads/treeless")], pack_of(objects[-1:]))
    before = refs(repo_dir)

    answer = push(repo_dir, app, users, body)

    assert b"were not pushed" in answer
    assert refs(repo_dir) == before


def test_it_refuses_a_branch_pointing_at_a_blob(repo_dir, app, users, feature):
    blob = Blob.from_string(b"not a commit")
    body = request([(ZERO, blob.id, b"refs/heads/blob")], pack_of([blob]))
    before = refs(repo_dir)

    answer = push(repo_dir, app, users, body)

    assert b"must point at a commit" in answer
    assert refs(repo_dir) == before


@pytest.mark.parametrize("ref", [b"refs/heads/-rf", b"refs/heads/--upload-pack=x",
                                 b"refs/notes/commits", b"refs/heads/a..b", b"HEAD",
                                 b"refs/heads/x.lock"])
def test_it_refuses_a_ref_git_would_refuse_or_that_reads_as_an_option(repo_dir, app, users,
                                                                       feature, ref):
    objects = next_commit(feature)
    before = refs(repo_dir)

    answer = push(repo_dir, app, users, request([(ZERO, objects[-1].id, ref)],
                                                 pack_of(objects)))

    assert b"ng " + ref in answer
    assert refs(repo_dir) == before


def test_it_accepts_a_force_push_to_another_branch(repo_dir, app, users, feature):
    rewritten = commit_objects(b"rewritten history")  # not a descendant of feature

    answer = push(repo_dir, app, users, request(
        [(feature[-1].id, rewritten[-1].id, b"refs/heads/feature")], pack_of(rewritten)))

    assert b"ok refs/heads/feature" in answer
    assert refs(repo_dir) == {b"refs/heads/feature": rewritten[-1].id}


def test_it_refuses_to_delete_the_deploy_branch(repo_dir, app, users, feature):
    with Repo(str(repo_dir)) as repo:
        repo.refs[b"refs/heads/main"] = feature[-1].id
    before = refs(repo_dir)

    answer = push(repo_dir, app, users, request([(feature[-1].id, ZERO, b"refs/heads/main")],
                                                 b""))

    assert b"ng refs/heads/main the deploy branch cannot be deleted" in answer
    assert refs(repo_dir) == before


def test_it_refuses_a_body_in_an_encoding_it_cannot_bound(client, users):
    from paas.core.accounts import create_token

    token = create_token(users.owner)
    credentials = base64.b64encode(f"owner:{token}".encode()).decode()
    response = client.post("/git/shop.git/git-receive-pack", data=b"\x00" * 64,
                           content_type="application/x-git-receive-pack-request",
                           HTTP_AUTHORIZATION=f"Basic {credentials}",
                           HTTP_CONTENT_ENCODING="br")

    assert response.status_code == 415
    assert b"unsupported Content-Encoding" in response.content


def test_a_client_that_trickles_its_push_is_cut_off_at_the_overall_bound():
    from paas.git.limits import PushRefused

    now = [0.0]

    class Trickle:
        """A byte at a time, each one just inside the per-read timeout."""

        def read(self, size: int = -1, /) -> bytes:
            now[0] += 59
            return b"0"

    body = BoundedBody(Trickle(), BIG, within_seconds=3600, clock=lambda: now[0])
    received = 0
    with pytest.raises(PushRefused) as raised:
        for _ in range(1000):
            received += len(body.read(1))

    assert "longer than 3600 seconds" in str(raised.value)
    assert "PAAS_GIT_PUSH_TIMEOUT" in str(raised.value)
    assert received == 62  # every read that began within the hour; the next is refused
