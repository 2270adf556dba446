"""Both schedulers speak the whole Scheduler interface, with the same parameters."""

import inspect

import pytest

from paas.runtime.docker_scheduler import DockerScheduler
from paas.runtime.scheduler import Scheduler
from tests.fakes import FakeScheduler

METHODS = sorted(name for name, value in vars(Scheduler).items()
                 if callable(value) and not name.startswith("_"))


def test_the_interface_names_what_core_needs():
    assert {"converge", "run_oneoff", "instances", "logs", "remove_app"} <= set(METHODS)


@pytest.mark.parametrize("implementation", [DockerScheduler, FakeScheduler])
@pytest.mark.parametrize("method", METHODS)
def test_each_scheduler_implements_every_method_alike(implementation, method):
    wanted = inspect.signature(getattr(Scheduler, method))
    found = inspect.signature(getattr(implementation, method))
    assert list(found.parameters) == list(wanted.parameters)
    for name, parameter in wanted.parameters.items():
        assert found.parameters[name].default == parameter.default, (method, name)
