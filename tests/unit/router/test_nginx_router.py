import stat

import pytest

from paas.errors import PlatformError, UserError
from paas.router.nginx import AppRoute, Router, accepting_workers
from paas.router.route_table import Route, read_table


def test_a_server_block_names_the_hostnames_and_no_ports(router):
    text = router.render_app(AppRoute("shop", ("shop.localhost", "shop.example.com"),
                                      ("10.1.0.2:5000", "10.1.0.3:5000")))
    assert "server_name shop.localhost shop.example.com;" in text
    assert "listen 18999;" in text
    assert 'access("shop")' in text
    assert "proxy_pass http://paas_apps;" in text
    assert "32768" not in text


def test_the_server_block_is_the_same_with_and_without_healthy_ports(router):
    # So that scaling web to 0 and back changes the route table only.
    serving = router.render_app(AppRoute("shop", ("shop.localhost",), ("10.1.0.2:5000",)))
    idle = router.render_app(AppRoute("shop", ("shop.localhost",), ()))
    assert serving == idle


def test_the_main_config_keeps_clients_and_upstreams_alive(router):
    text = router.main_config.read_text()
    assert "keepalive_timeout 0" not in text
    assert "keepalive_timeout 75s;" in text
    upstream = text[text.index("upstream paas_apps"):]
    assert upstream.index("balancer_by_lua_block") < upstream.index("keepalive 64;")
    block = router.render_app(AppRoute("shop", ("shop.localhost",), ("10.1.0.2:5000",)))
    assert "proxy_http_version 1.1;" in block and 'proxy_set_header Connection "";' in block


def test_the_main_config_serves_the_control_endpoint_on_a_unix_socket_only(router):
    text = router.main_config.read_text()
    assert f"listen unix:{router.control_socket};" in text
    listens = [line.strip() for line in text.splitlines() if line.strip().startswith("listen")]
    assert listens == ["listen 18999 default_server;", "listen 18998 ssl default_server;",
                       f"listen unix:{router.control_socket};"]
    assert router.control_socket.parent == router.run_dir / "router"


def test_the_control_socket_directory_is_private_to_the_control_planes_user(router):
    router.control_dir.chmod(0o755)  # as an older or hand-made one might be
    router.write_main_config()
    assert stat.S_IMODE(router.control_dir.stat().st_mode) == 0o700


def test_a_control_socket_path_too_long_for_a_unix_socket_is_refused(tmp_path):
    deep = tmp_path / ("d" * 100)
    router = Router(nginx_dir=deep / "nginx", log_dir=deep / "logs", run_dir=deep / "run",
                    port=18999)
    with pytest.raises(PlatformError) as error:
        router.write_main_config()
    assert error.value.code == "router_socket_path"
    assert not router.main_config.exists()


def test_the_generated_configuration_passes_nginx_t(router):
    router.set_route(AppRoute("shop", ("shop.localhost",), ("10.1.0.2:5000",)))
    result = router._nginx("-t", "-c", str(router.main_config))
    assert result.returncode == 0, result.stderr


def test_it_applies_a_valid_route_and_removes_it(router):
    route = AppRoute("shop", ("shop.localhost",), ("10.1.0.2:5000",))
    router.set_route(route)
    live = router.apps_dir / "shop.conf"
    assert live.read_text() == router.render_app(route)
    assert read_table(router.routes_file)["shop"] == Route(router.generation(route),
                                                           ("10.1.0.2:5000",))
    router.remove_route("shop")
    assert not live.exists()
    assert "shop" not in read_table(router.routes_file)
    assert router.routed_apps() == set()


def test_it_keeps_the_live_config_when_nginx_rejects_the_candidate(router):
    good = AppRoute("shop", ("shop.localhost",), ("10.1.0.2:5000",))
    router.set_route(good)
    with pytest.raises(PlatformError) as error:
        router.apply({"broken": "server { this is not nginx }"})
    assert error.value.code == "router_invalid"
    assert not (router.apps_dir / "broken.conf").exists()
    assert (router.apps_dir / "shop.conf").read_text() == router.render_app(good)


def test_a_new_domain_that_nginx_rejects_changes_neither_block_nor_table(router):
    good = AppRoute("shop", ("shop.localhost",), ("10.1.0.2:5000",))
    router.set_route(good)
    (router.apps_dir / "zz-broken.conf").write_text("server { this is not nginx }\n")
    with pytest.raises(PlatformError) as error:
        router.set_route(AppRoute("shop", ("shop.localhost", "shop.example.com"),
                                  ("10.1.0.4:5000",)))
    assert error.value.code == "router_invalid"
    assert (router.apps_dir / "shop.conf").read_text() == router.render_app(good)
    assert router.routed_upstreams("shop") == ("10.1.0.2:5000",)


@pytest.mark.parametrize("route, code", [
    (AppRoute("Shop", ("shop.localhost",), ("10.1.0.2:5000",)), "invalid_app_name"),
    (AppRoute("shop;", ("shop.localhost",), ("10.1.0.2:5000",)), "invalid_app_name"),
    (AppRoute("shop", ("shop.localhost; evil",), ("10.1.0.2:5000",)), "invalid_domain"),
    (AppRoute("shop", (), ("10.1.0.2:5000",)), "invalid_route"),
    (AppRoute("shop", ("shop.localhost",), ("10.1.0.2:0",)), "invalid_route"),
    (AppRoute("shop", ("shop.localhost",), ("10.1.0.2:65536",)), "invalid_route"),
    (AppRoute("shop", ("shop.localhost",), (True,)), "invalid_route"),
    (AppRoute("shop", ("shop.localhost",), ("10.1.0.2:5000; evil",)), "invalid_route"),
    (AppRoute("shop", ("shop.localhost",), ("10.1.0.2:5000", "10.1.0.2:5000")), "invalid_route"),
    (AppRoute("shop", ("shop.localhost",), tuple(f"10.1.0.2:{port}"
                                                 for port in range(20000, 20101))),
     "invalid_route"),
])
def test_it_rejects_a_route_nginx_cannot_hold_and_writes_nothing(running, route, code):
    with pytest.raises((UserError, PlatformError)) as error:
        running.set_route(route)
    assert error.value.code == code
    assert list(running.apps_dir.iterdir()) == []
    assert not running.routes_file.exists()
    assert running.control.calls == []


def _fake_process(proc, pid: int, parent: int, title: bytes) -> None:
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(f"{pid} (nginx) S {parent} {pid} {pid} 0 -1")
    (proc / str(pid) / "cmdline").write_bytes(title)


def test_only_workers_of_the_master_that_still_accept_connections_count(tmp_path):
    _fake_process(tmp_path, 10, 1, b"nginx: master process /usr/sbin/nginx\0")
    _fake_process(tmp_path, 11, 10, b"nginx: worker process\0")
    _fake_process(tmp_path, 12, 10, b"nginx: worker process is shutting down\0")
    _fake_process(tmp_path, 13, 99, b"nginx: worker process\0")  # another nginx's worker
    (tmp_path / "self").mkdir()
    assert accepting_workers(10, proc=tmp_path) == {11}


def test_a_pid_file_left_by_a_killed_nginx_does_not_count_as_running(router):
    router.pid_file.write_text("999999999\n")  # above pid_max: no such process
    assert not router.is_running()
