"""The Docker engine and the fake both speak the whole ServiceRunner interface, alike."""

import inspect

import pytest

from paas.runtime.docker_services import DockerServices
from paas.runtime.services import ServiceRunner
from tests.fakes import FakeServices

METHODS = sorted(name for name, value in vars(ServiceRunner).items()
                 if callable(value) and not name.startswith("_"))


def test_the_interface_names_what_core_needs():
    assert {"ensure_backing_service", "backing_service_state", "remove_backing_service",
            "remove_orphan_backing_services"} <= set(METHODS)


@pytest.mark.parametrize("implementation", [DockerServices, FakeServices])
@pytest.mark.parametrize("method", METHODS)
def test_each_runner_implements_every_method_alike(implementation, method):
    wanted = inspect.signature(getattr(ServiceRunner, method))
    found = inspect.signature(getattr(implementation, method))
    assert list(found.parameters) == list(wanted.parameters)
    for name, parameter in wanted.parameters.items():
        assert found.parameters[name].default == parameter.default, (method, name)
