"""One-off containers whose worker died mid-run are removed once past their timeout."""

from types import SimpleNamespace

import docker.errors
import pytest

from paas.errors import PlatformError
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.docker_oneoffs import OneOffSpec

NOW = 1_700_000_000.0


class FakeOneOff:
    def __init__(self, name: str, age: float, timeout: str | None, gone: bool = False) -> None:
        labels = {"paas.home": "/srv/paas", "paas.app": "shop", "paas.oneoff": "run"}
        if timeout is not None:
            labels["paas.oneoff.timeout"] = timeout
        self.id = name
        self.attrs = {"Id": name, "Names": [f"/{name}"], "Labels": labels,
                      "Created": int(NOW - age)}
        self.gone = gone
        self.removed = False

    def remove(self, force=False):
        if self.gone:
            raise docker.errors.NotFound("gone")
        self.removed = True


def engine_with(*containers: FakeOneOff) -> tuple[DockerEngine, list]:
    calls = []

    def list_containers(all=False, sparse=False, filters=None):  # noqa: A002
        calls.append({"all": all, "sparse": sparse, "filters": filters})
        return list(containers)

    engine = DockerEngine(home="/srv/paas")
    engine._client = SimpleNamespace(containers=SimpleNamespace(list=list_containers))
    return engine, calls


def test_it_removes_only_one_offs_older_than_their_timeout_and_grace():
    stale = FakeOneOff("paas.shop.run.aa.v3", age=400, timeout="300")
    running = FakeOneOff("paas.shop.run.bb.v3", age=350, timeout="300")  # within the grace
    unlabelled_old = FakeOneOff("paas.shop.release.cc.v2", age=5000, timeout=None)
    unlabelled_young = FakeOneOff("paas.shop.release.dd.v2", age=500, timeout=None)
    engine, calls = engine_with(stale, running, unlabelled_old, unlabelled_young)

    removed = engine.remove_stale_oneoffs(default_timeout=600, grace_seconds=60, now=NOW)

    assert removed == ["paas.shop.run.aa.v3", "paas.shop.release.cc.v2"]
    assert stale.removed and unlabelled_old.removed
    assert not running.removed and not unlabelled_young.removed
    (call,) = calls
    assert call["all"] and call["sparse"]
    assert set(call["filters"]["label"]) == {"paas.home=/srv/paas", "paas.oneoff"}


def test_one_offs_of_apps_that_no_longer_exist_go_whatever_their_age():
    orphan = FakeOneOff("paas.shop.release.ff.v2", age=5, timeout="600")
    kept = FakeOneOff("paas.shop.release.gg.v2", age=5, timeout="600")
    kept.attrs["Labels"]["paas.app"] = "blog"
    engine, calls = engine_with(orphan, kept)

    removed = engine.remove_orphan_oneoffs(known_apps={"blog"})

    assert removed == ["paas.shop.release.ff.v2"]
    assert orphan.removed and not kept.removed
    assert set(calls[0]["filters"]["label"]) == {"paas.home=/srv/paas", "paas.oneoff"}


def test_a_one_off_removed_meanwhile_is_not_reported():
    engine, _ = engine_with(FakeOneOff("paas.shop.run.ee.v1", age=10_000, timeout="60",
                                       gone=True))

    assert engine.remove_stale_oneoffs(default_timeout=600, now=NOW) == []


def test_run_once_labels_its_container_with_its_timeout():
    created = {}

    class Containers:
        def create(self, image, **kwargs):
            created.update(kwargs)
            raise docker.errors.APIError("stop here")

    engine = DockerEngine(home="/srv/paas")
    engine._client = SimpleNamespace(containers=Containers(),
                                     networks=SimpleNamespace(get=lambda name: None))

    with pytest.raises(PlatformError):
        engine.run_once(OneOffSpec(app="shop", release=3, image="paas/shop:v3",
                                   command="true", env={}, kind="run",
                                   network="paas-0123abcd-shop"), timeout=299.5)

    assert created["labels"]["paas.oneoff.timeout"] == "300"
    assert created["labels"]["paas.oneoff"] == "run"
