"""An app's network takes the first /24 of the pool that dockerd accepts."""

from types import SimpleNamespace

import docker.errors
import pytest

from paas.errors import PlatformError
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.docker_networks import NETWORK_ATTEMPTS


def engine_refusing(refused: set[str]) -> tuple[DockerEngine, list[str]]:
    """A Docker whose network list is empty but which refuses the ``refused`` subnets, as
    dockerd does for a pool it still holds for a network removed meanwhile."""
    tried: list[str] = []

    def get(name):
        raise docker.errors.NotFound("no network")

    def create(name, ipam, **kwargs):
        subnet = ipam["Config"][0]["Subnet"]
        tried.append(subnet)
        if subnet in refused:
            raise docker.errors.APIError("Pool overlaps with other one on this address space")

    engine = DockerEngine(home="/srv/paas", network_pool="10.213.0.0/16")
    engine._client = SimpleNamespace(networks=SimpleNamespace(get=get, list=list,
                                                              create=create))
    return engine, tried


def test_a_subnet_dockerd_refuses_is_not_tried_again():
    engine, tried = engine_refusing({"10.213.0.0/24", "10.213.1.0/24"})

    engine.ensure_app_network("shop")

    assert tried == ["10.213.0.0/24", "10.213.1.0/24", "10.213.2.0/24"]


def test_it_gives_up_after_a_bounded_number_of_refusals():
    engine, tried = engine_refusing({f"10.213.{n}.0/24" for n in range(256)})

    with pytest.raises(PlatformError) as raised:
        engine.ensure_app_network("shop")

    assert raised.value.code == "network_pool_exhausted"
    assert len(tried) == NETWORK_ATTEMPTS == len(set(tried))
