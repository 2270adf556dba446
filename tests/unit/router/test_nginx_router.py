import pytest

from paas.errors import PlatformError
from paas.router.nginx import AppRoute, Router


@pytest.fixture
def router(tmp_path):
    router = Router(nginx_dir=tmp_path / "nginx", log_dir=tmp_path / "logs",
                    run_dir=tmp_path / "run", port=18999)
    router.write_main_config()
    return router


def test_it_renders_an_upstream_per_healthy_container(router):
    text = router.render_app(AppRoute("shop", ("shop.localhost", "shop.example.com"),
                                      (32768, 32769)))
    assert "server 127.0.0.1:32768;" in text and "server 127.0.0.1:32769;" in text
    assert "server_name shop.localhost shop.example.com;" in text
    assert "listen 18999;" in text


def test_an_app_without_healthy_containers_gets_a_503_and_no_upstream(router):
    text = router.render_app(AppRoute("idle", ("idle.localhost",), ()))
    assert "upstream" not in text
    assert "return 503" in text


def test_it_applies_a_valid_route_and_removes_it(router):
    route = AppRoute("shop", ("shop.localhost",), (32768,))
    router.set_route(route)
    live = router.apps_dir / "shop.conf"
    assert live.read_text() == router.render_app(route)
    router.remove_route("shop")
    assert not live.exists()


def test_it_keeps_the_live_config_when_nginx_rejects_the_candidate(router):
    good = AppRoute("shop", ("shop.localhost",), (32768,))
    router.set_route(good)
    with pytest.raises(PlatformError) as error:
        router.apply({"broken": "server { this is not nginx }"})
    assert error.value.code == "router_invalid"
    assert not (router.apps_dir / "broken.conf").exists()
    assert (router.apps_dir / "shop.conf").read_text() == router.render_app(good)


def _fake_process(proc, pid: int, parent: int, title: bytes) -> None:
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(f"{pid} (nginx) S {parent} {pid} {pid} 0 -1")
    (proc / str(pid) / "cmdline").write_bytes(title)


def test_only_workers_of_the_master_that_still_accept_connections_count(tmp_path):
    from paas.router.nginx import accepting_workers

    _fake_process(tmp_path, 10, 1, b"nginx: master process /usr/sbin/nginx\0")
    _fake_process(tmp_path, 11, 10, b"nginx: worker process\0")
    _fake_process(tmp_path, 12, 10, b"nginx: worker process is shutting down\0")
    _fake_process(tmp_path, 13, 99, b"nginx: worker process\0")  # another nginx's worker
    (tmp_path / "self").mkdir()
    assert accepting_workers(10, proc=tmp_path) == {11}
