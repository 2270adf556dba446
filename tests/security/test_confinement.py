"""Confinement by default and network isolation, where the edge is pure: what paas hands
``docker create`` for app and one-off containers, which networks they join, and the links that
are the only way one app reaches another. tests/e2e/test_isolation.py tries the same from
inside real containers."""

import os
import subprocess
import sys
from types import SimpleNamespace

import docker.errors
import pytest

from paas.core import processes
from paas.core.formation import set_limits
from paas.errors import PlatformError
from paas.hostctl.supervisor import StackSettings, redis_config, render
from paas.runtime import docker_scheduler, scheduler
from paas.runtime.confinement import checked_volumes
from paas.runtime.docker_containers import ContainerSpec
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.docker_networks import app_network_name
from paas.runtime.docker_oneoffs import OneOffSpec
from paas.runtime.docker_scheduler import DockerScheduler
from paas.runtime.scheduler import DesiredApp
from tests.fakes import FakeRouter
from tests.unit.runtime.fake_docker import FakeDocker

HOME = "/srv/paas"
NETWORK = "paas-0123abcd-shop"


def web_spec(**overrides) -> ContainerSpec:
    values = dict(app="shop", release=2, process_type="web", instance=1, image="paas/shop:v2",
                  command=None, env={"GREETING": "hi"}, publish=True, mem_limit="512m",
                  pids_limit=256, network=NETWORK)
    values.update(overrides)
    return ContainerSpec(**values)


def oneoff_spec(**overrides) -> OneOffSpec:
    values = dict(app="shop", release=2, image="paas/shop:v2", command="migrate", env={},
                  kind="release", mem_limit="512m", pids_limit=256, network=NETWORK)
    values.update(overrides)
    return OneOffSpec(**values)


class RecordingContainers:
    """The SDK's ``client.containers``: records what ``create`` was asked for."""

    def __init__(self) -> None:
        self.created: list[dict] = []

    def create(self, image, **kwargs):
        self.created.append(kwargs)
        raise docker.errors.APIError("recorded; not started")

    def get(self, name):
        raise docker.errors.NotFound("no such container")


def engine_with_recording_client() -> tuple[DockerEngine, RecordingContainers]:
    engine = DockerEngine(home=HOME)
    containers = RecordingContainers()
    engine._client = SimpleNamespace(
        containers=containers,
        networks=SimpleNamespace(get=lambda name: SimpleNamespace(connect=lambda c: None)),
        api=SimpleNamespace(create_endpoint_config=lambda aliases: {"Aliases": aliases}))
    return engine, containers


# --- what docker create is asked for ---------------------------------------------------------


def test_it_drops_every_capability_and_forbids_new_privileges_for_app_containers():
    kwargs = web_spec().create_kwargs(HOME)

    assert kwargs["cap_drop"] == ["ALL"]
    assert "cap_add" not in kwargs
    assert kwargs["security_opt"] == ["no-new-privileges:true"]
    assert kwargs["privileged"] is False
    assert kwargs["pids_limit"] == 256
    # The same swap limit as memory: 512m means 512m, not 512m plus swap.
    assert (kwargs["mem_limit"], kwargs["memswap_limit"]) == ("512m", "512m")


def test_it_confines_one_off_containers_like_app_containers():
    kwargs = oneoff_spec().create_kwargs(HOME, timeout=60)

    assert kwargs["cap_drop"] == ["ALL"]
    assert kwargs["security_opt"] == ["no-new-privileges:true"]
    assert kwargs["privileged"] is False
    assert (kwargs["pids_limit"], kwargs["mem_limit"]) == (256, "512m")
    assert kwargs["network"] == NETWORK


def test_it_publishes_web_ports_on_loopback_only():
    kwargs = web_spec().create_kwargs(HOME)

    assert kwargs["ports"] == {"5000/tcp": ("127.0.0.1", None)}
    assert "ports" not in oneoff_spec().create_kwargs(HOME, timeout=60)


@pytest.mark.parametrize("volumes", [
    {"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
    {"/": {"bind": "/host", "mode": "rw"}},
    {"../etc": {"bind": "/data", "mode": "rw"}},
    {"paas-shop-data": {"bind": "data", "mode": "rw"}},
    {"paas-shop-data": {"bind": "/data", "mode": "rw,shared"}},
    {"paas-shop-data": {"bind": "/data", "mode": "rw", "propagation": "rshared"}},
])
def test_it_refuses_to_mount_a_host_path_into_an_app_container(volumes):
    engine, containers = engine_with_recording_client()

    with pytest.raises(PlatformError) as refused:
        engine.start(web_spec(volumes=volumes))
    with pytest.raises(PlatformError):
        engine.run_once(oneoff_spec(volumes=volumes), timeout=60)

    assert refused.value.code == "host_mount_refused"
    assert containers.created == []  # nothing reached Docker


def test_it_mounts_named_volumes():
    volumes = {"paas-shop-uploads": {"bind": "/data", "mode": "rw"}}

    assert checked_volumes(volumes) == volumes
    assert web_spec(volumes=volumes).create_kwargs(HOME)["volumes"] == volumes


def test_it_refuses_to_start_an_app_container_outside_an_app_network():
    engine, containers = engine_with_recording_client()

    with pytest.raises(PlatformError) as refused:
        engine.start(web_spec(network=""))

    assert refused.value.code == "no_network"
    assert containers.created == []


def test_the_engine_hands_docker_the_confined_arguments():
    engine, containers = engine_with_recording_client()

    with pytest.raises(PlatformError):
        engine.start(web_spec())
    with pytest.raises(PlatformError):
        engine.run_once(oneoff_spec(), timeout=60)

    web, oneoff = containers.created
    for kwargs in (web, oneoff):
        assert kwargs["cap_drop"] == ["ALL"] and kwargs["privileged"] is False
        assert kwargs["security_opt"] == ["no-new-privileges:true"]
        assert kwargs["network"] == NETWORK
    # Apps linked to shop reach its web process by its name, on shop's network only.
    assert web["networking_config"] == {NETWORK: {"Aliases": ["shop"]}}


def test_a_read_only_root_filesystem_comes_with_a_writable_tmp():
    kwargs = web_spec(read_only_rootfs=True).create_kwargs(HOME)

    assert kwargs["read_only"] is True
    assert set(kwargs["tmpfs"]) == {"/tmp"}
    assert "read_only" not in web_spec().create_kwargs(HOME)


def test_the_image_file_reader_container_is_confined_and_offline():
    engine, containers = engine_with_recording_client()

    with pytest.raises(docker.errors.APIError):
        engine.read_image_file("paas/shop:v2", "/app/.paas/release.out")

    created, = containers.created
    assert created["network_disabled"] is True
    assert created["cap_drop"] == ["ALL"]


# --- which networks containers join ----------------------------------------------------------


@pytest.fixture
def docker_runtime(monkeypatch):
    monkeypatch.setattr(scheduler, "ROUTER_SETTLE_SECONDS", 0)
    monkeypatch.setattr(docker_scheduler, "wait_until_healthy", lambda *args: None)
    engine = FakeDocker()
    return DockerScheduler(engine, FakeRouter(engine.events), healthcheck_timeout=5,
                           drain_seconds=0), engine


def desired(**overrides) -> DesiredApp:
    values = dict(app="shop", release=2, image="paas/shop:v2", env={},
                  process_types={"web": None, "worker": "work"},
                  quantities={"web": 1, "worker": 1}, hostnames=("shop.localhost",),
                  limits={"web": {"memory": "256m", "pids": 256}},
                  default_limits={"memory": "512m", "pids": 256})
    values.update(overrides)
    return DesiredApp(**values)


def test_each_app_container_joins_only_its_own_app_network(docker_runtime):
    runtime, engine = docker_runtime

    runtime.converge(desired())

    specs = [container.spec for container in engine.containers.values()]
    assert {spec.network for spec in specs} == {"paas-fake-shop"}
    assert all(spec.linked_networks == () for spec in specs)
    assert engine.networks == {"paas-fake-shop"}


def test_a_process_type_without_its_own_limits_gets_the_defaults(docker_runtime):
    runtime, engine = docker_runtime

    runtime.converge(desired())

    by_type = {c.spec.process_type: c.spec for c in engine.containers.values()}
    assert (by_type["web"].mem_limit, by_type["worker"].mem_limit) == ("256m", "512m")
    assert by_type["worker"].pids_limit == 256


def test_a_linked_app_joins_the_other_apps_network_too(docker_runtime):
    runtime, engine = docker_runtime

    runtime.converge(desired(links=("billing",)))
    runtime.run_oneoff(desired(links=("billing",)), "migrate", kind="release", timeout=60)

    specs = [c.spec for c in engine.containers.values()] + engine.oneoffs
    assert {spec.linked_networks for spec in specs} == {("paas-fake-billing",)}
    assert engine.oneoffs[0].mem_limit == "512m" and engine.oneoffs[0].pids_limit == 256
    assert engine.networks == {"paas-fake-shop", "paas-fake-billing"}


def test_removing_an_app_removes_its_network(docker_runtime):
    runtime, engine = docker_runtime
    runtime.converge(desired())

    runtime.remove_app("shop")

    assert engine.networks == set() and engine.containers == {}


def test_app_networks_of_two_installations_never_share_a_name():
    assert app_network_name("/var/lib/paas", "shop") != app_network_name("/srv/other", "shop")
    assert app_network_name("/var/lib/paas", "shop").endswith("-shop")


def test_a_new_app_network_takes_a_free_subnet_of_the_pool():
    created = []
    taken = SimpleNamespace(attrs={"IPAM": {"Config": [{"Subnet": "10.213.0.0/24"}]}})

    def get(name):
        raise docker.errors.NotFound("no network")

    engine = DockerEngine(home=HOME, network_pool="10.213.0.0/16")
    engine._client = SimpleNamespace(networks=SimpleNamespace(
        get=get, list=lambda: [taken],
        create=lambda name, **kwargs: created.append((name, kwargs))))

    name = engine.ensure_app_network("shop")

    (created_name, kwargs), = created
    assert name == created_name == app_network_name(HOME, "shop")
    assert kwargs["ipam"]["Config"][0]["Subnet"] == "10.213.1.0/24"
    assert kwargs["labels"]["paas.home"] == HOME


# --- through core: defaults, links ------------------------------------------------------------

django_db = pytest.mark.django_db


@django_db
def test_every_container_gets_the_default_memory_and_pids_limits(app, platform):
    converged = platform.scheduler.converged[-1]

    assert converged.limits["web"] == {"memory": "512m", "pids": 256}
    assert converged.default_limits == {"memory": "512m", "pids": 256}
    assert converged.links == ()


@django_db
def test_a_resized_process_type_keeps_its_own_memory_limit(app, platform):
    set_limits(app, "web", memory="1g")

    assert platform.scheduler.converged[-1].limits["web"] == {"memory": "1g", "pids": 256}
    assert app.formations.get(process_type="web").memory_limit == "1g"


@django_db
def test_one_off_commands_run_with_the_default_limits(app, platform):
    processes.run_command(app, "echo hi")

    ran = platform.scheduler.oneoffs[-1]
    assert ran.default_limits == {"memory": "512m", "pids": 256}
    assert ran.links == ()


# --- the control plane's address -------------------------------------------------------------


def read_setting(name: str, tmp_path, **env_values: str) -> subprocess.CompletedProcess:
    env = {key: val for key, val in os.environ.items() if not key.startswith("PAAS_")}
    env.update(PAAS_HOME=str(tmp_path), DJANGO_SETTINGS_MODULE="paas.settings", **env_values)
    probe = f"import django; django.setup(); from django.conf import settings; " \
            f"print(settings.{name})"
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_control_plane_binds_to_loopback_by_default(tmp_path):
    result = read_setting("PAAS_BIND_ADDRESS", tmp_path)
    assert result.stdout.strip() == "127.0.0.1", result.stderr

    stack = StackSettings(home=tmp_path, project_dir=tmp_path, control_port=8000,
                          router_port=8080, bind_address="127.0.0.1",
                          redis_url="redis://127.0.0.1:6380/0", worker_concurrency=1,
                          build_concurrency=1, nginx_binary="/usr/sbin/nginx", env={})
    config = render(stack)
    assert "--bind 127.0.0.1:8000" in config
    assert "bind 127.0.0.1" in redis_config(stack).splitlines()


@pytest.mark.parametrize(("name", "value"), [
    ("PAAS_DEFAULT_MEMORY", "lots"), ("PAAS_DEFAULT_MEMORY", "1m"),
    ("PAAS_DEFAULT_MEMORY", "512"), ("PAAS_PIDS_LIMIT", "0"), ("PAAS_PIDS_LIMIT", "many"),
    ("PAAS_NETWORK_POOL", "10.213.0.0/25"), ("PAAS_NETWORK_POOL", "not-a-network"),
    ("PAAS_READ_ONLY_ROOTFS", "maybe"),
])
def test_it_refuses_to_start_with_a_bad_confinement_setting(tmp_path, name, value):
    result = read_setting(name, tmp_path, **{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
