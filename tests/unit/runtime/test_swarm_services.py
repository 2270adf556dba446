"""What a Swarm service of an app is made from (paas.runtime.swarm_services), and what a push
to the registry reports per layer (paas.runtime.docker_registry)."""

import signal
import subprocess

import pytest

from paas.errors import PlatformError
from paas.runtime.docker_registry import layer_outcomes, registry_reference
from paas.runtime.health import HealthCheck
from paas.runtime.swarm_services import (
    DRAIN_WRAPPER,
    ROUTE_SETTLE_SECONDS,
    ServiceSpec,
    health_command,
    service_name,
)


def web_spec(**changes) -> ServiceSpec:
    facts = dict(installation="abcd1234", home="/srv/paas", app="shop", release=3,
                 process_type="web", image="127.0.0.1:5000/paas/shop:v3",
                 command="exec python3 web.py", env={"GREETING": "hi"}, replicas=2,
                 network="paas-abcd1234-shop-swarm",
                 limits={"memory": "256m", "nano_cpus": 500_000_000, "pids": 128})
    facts.update(changes)
    return ServiceSpec(**facts)


def test_a_web_service_rolls_out_start_first_and_rolls_back_on_failure():
    kwargs = web_spec().create_kwargs()
    assert kwargs["update_config"]["Order"] == "start-first"
    assert kwargs["update_config"]["FailureAction"] == "rollback"
    assert kwargs["rollback_config"]["Order"] == "start-first"
    assert kwargs["mode"]["replicated"]["Replicas"] == 2
    assert kwargs["endpoint_spec"] == {"Mode": "dnsrr", "Ports": [
        {"Protocol": "tcp", "TargetPort": 5000, "PublishMode": "host"}]}
    assert kwargs["healthcheck"]["Test"][0] == "CMD-SHELL"
    assert kwargs["init"] is True


def test_it_carries_the_labels_config_limits_and_confinement_of_a_container():
    kwargs = web_spec().create_kwargs()
    assert kwargs["labels"]["paas.app"] == "shop" and kwargs["labels"]["paas.release"] == "3"
    assert kwargs["container_labels"] == kwargs["labels"]
    assert "GREETING=hi" in kwargs["env"] and "PORT=5000" in kwargs["env"]
    assert "DYNO=web.{{.Task.Slot}}" in kwargs["env"]
    assert kwargs["args"][-1] == "exec python3 web.py"
    assert kwargs["cap_drop"] == ["ALL"]
    assert kwargs["resources"]["Limits"] == {"MemoryBytes": 256 * 1024**2,
                                             "NanoCPUs": 500_000_000, "Pids": 128}


def test_a_web_task_holds_sigterm_back_while_the_route_moves_and_workers_do_not():
    web = web_spec(drain_seconds=10).create_kwargs()
    assert web["args"][:3] == ["/bin/sh", "-c", DRAIN_WRAPPER]
    assert f"PAAS_ROUTE_SETTLE={ROUTE_SETTLE_SECONDS}" in web["env"]
    # Swarm's SIGKILL comes only after the settle time and the app's own drain time.
    assert web["stop_grace_period"] == (10 + ROUTE_SETTLE_SECONDS) * 1_000_000_000
    worker = web_spec(process_type="worker", drain_seconds=10).create_kwargs()
    assert worker["args"] == ["/bin/sh", "-c", "exec python3 web.py"]
    assert worker["stop_grace_period"] == 10 * 1_000_000_000
    assert "endpoint_spec" not in worker
    # The image's own command is left to the image: nothing to wrap.
    assert web_spec(command=None).create_kwargs()["args"] is None


def drained(tmp_path, command: str) -> tuple[int, str]:
    """Run ``command`` under the drain wrapper, SIGTERM it once it is up, and return its exit
    status and what it printed after "up"."""
    (tmp_path / "app.sh").write_text(
        "trap 'echo TERM; sleep 0.3; echo drained; exit 7' TERM\n"
        "echo up; while :; do sleep 0.05; done\n")
    wrapped = subprocess.Popen(["/bin/sh", "-c", DRAIN_WRAPPER, "paas-drain", command],
                               cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                               env={"PAAS_ROUTE_SETTLE": "0.3", "PATH": "/usr/bin:/bin"})
    try:
        assert wrapped.stdout.readline() == "up\n"
        wrapped.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            wrapped.wait(timeout=0.1)  # held back: the app has not been told yet
        return wrapped.wait(timeout=30), wrapped.stdout.read()
    finally:
        wrapped.kill()


def test_the_drain_wrapper_delays_sigterm_and_passes_on_the_exit_status(tmp_path):
    assert drained(tmp_path, "exec sh app.sh") == (7, "TERM\ndrained\n")


def test_a_command_that_does_not_exec_still_gets_sigterm_and_is_waited_for(tmp_path):
    # The command's shell dies of the SIGTERM; the server it started drains to the end.
    status, output = drained(tmp_path, "sh app.sh; echo unreachable")
    assert output == "TERM\ndrained\n" and status == 128 + signal.SIGTERM


def test_it_refuses_a_host_path_as_a_volume():
    with pytest.raises(PlatformError) as refused:
        web_spec(volumes={"/var/run/docker.sock": {"bind": "/sock"}}).create_kwargs()
    assert refused.value.code == "host_mount_refused"


def test_the_spec_hash_ignores_replicas_so_a_scale_is_no_rolling_update():
    assert web_spec(replicas=1).spec_hash == web_spec(replicas=5).spec_hash
    assert web_spec().spec_hash != web_spec(env={"GREETING": "ho"}).spec_hash


def test_a_oneoff_is_a_replicated_job_that_never_restarts():
    kwargs = web_spec(process_type="run", oneoff="run", oneoff_name="paas-x-shop-run-1",
                      timeout=30).create_kwargs()
    assert kwargs["mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    assert kwargs["restart_policy"]["Condition"] == "none"
    assert kwargs["labels"]["paas.oneoff"] == "run"
    assert "endpoint_spec" not in kwargs and "update_config" not in kwargs


def test_a_long_process_type_keeps_the_service_name_one_dns_label():
    assert service_name("abcd1234", "a" * 30, "w" * 30).startswith("paas-abcd1234-" + "a" * 30)
    assert len(service_name("abcd1234", "a" * 30, "w" * 30)) <= 63


def test_the_health_command_quotes_what_app_json_says():
    script = health_command((HealthCheck(path="/health'; rm -rf /", content="ok",
                                         name="h"),))[1]
    assert "rm -rf /'" not in script.replace("'\"'\"'", "")
    assert script.startswith("if command -v python3")


def test_a_push_reports_each_layer_as_pushed_or_already_there():
    progress = [{"status": "The push refers to repository [127.0.0.1:5000/paas/shop]"},
                {"status": "Preparing", "id": "aaa"}, {"status": "Pushing", "id": "aaa"},
                {"status": "Pushed", "id": "aaa"},
                {"status": "Layer already exists", "id": "bbb"},
                {"status": "Mounted from paas/other", "id": "ccc"},
                {"status": "v3: digest: sha256:1 size: 9"}]
    assert layer_outcomes(progress) == {"aaa": "pushed", "bbb": "already in the registry",
                                        "ccc": "already in the registry"}
    assert registry_reference("127.0.0.1:5000", "paas/shop:v3") == "127.0.0.1:5000/paas/shop:v3"


def test_a_refused_push_is_a_platform_error():
    with pytest.raises(PlatformError) as refused:
        layer_outcomes([{"error": "unauthorized", "errorDetail": {"message": "unauthorized"}}])
    assert refused.value.code == "registry_push_failed"
