"""What a running nginx is told, and when it reloads: the route table changes live, and only a
server-block change reloads."""

import pytest

from paas.errors import PlatformError
from paas.router.nginx import AppRoute
from paas.router.route_table import Route, read_table


def shop(*upstreams: str, hostnames: tuple[str, ...] = ("shop.localhost",)) -> AppRoute:
    return AppRoute("shop", hostnames, upstreams)


def test_a_new_app_gets_its_route_pushed_and_one_reload(running):
    running.set_route(shop("10.1.0.2:5000"))
    assert running.control.routes["shop"] == Route(running.generation(shop("10.1.0.2:5000")),
                                                   ("10.1.0.2:5000",))
    assert running.reloads == 1


def test_new_upstreams_are_pushed_without_a_reload(running):
    running.set_route(shop("10.1.0.2:5000"))
    block = (running.apps_dir / "shop.conf").read_text()

    running.set_route(shop("10.1.0.4:5000", "10.1.0.6:5000"))  # a redeploy, a scale, a rollback
    running.set_route(shop())              # scaled to 0: the app answers 503
    running.set_route(shop("10.1.0.8:5000"))

    assert running.reloads == 1
    assert (running.apps_dir / "shop.conf").read_text() == block
    assert running.control.routes["shop"].upstreams == ("10.1.0.8:5000",)
    assert read_table(running.routes_file)["shop"].upstreams == ("10.1.0.8:5000",)


def test_other_hostnames_reload(running):
    running.set_route(shop("10.1.0.2:5000"))
    running.set_route(shop("10.1.0.2:5000", hostnames=("shop.localhost", "shop.example.com")))
    assert running.reloads == 2
    assert "shop.example.com" in (running.apps_dir / "shop.conf").read_text()


def test_the_table_file_is_written_before_nginx_is_told(running):
    seen = []
    put = running.control.put

    def put_after_reading_the_file(app, route):
        seen.append(read_table(running.routes_file).get(app))
        put(app, route)

    running.control.put = put_after_reading_the_file
    running.set_route(shop("10.1.0.2:5000"))
    assert seen == [Route(running.generation(shop("10.1.0.2:5000")), ("10.1.0.2:5000",))]


def test_a_route_nginx_refuses_is_taken_back_out_of_the_file(running):
    running.set_route(shop("10.1.0.2:5000"))

    def refuse(app, route):
        raise PlatformError("the router refused PUT", code="router_rejected")

    running.control.put = refuse
    with pytest.raises(PlatformError) as error:
        running.set_route(shop("10.1.0.4:5000", hostnames=("shop.localhost", "shop.example.com")))
    assert error.value.code == "router_rejected"
    assert read_table(running.routes_file)["shop"].upstreams == ("10.1.0.2:5000",)
    assert "shop.example.com" not in (running.apps_dir / "shop.conf").read_text()
    assert running.reloads == 1


def test_an_unreachable_control_socket_falls_back_to_a_reload_that_loads_the_file(running):
    running.set_route(shop("10.1.0.2:5000"))
    running.control.reachable = False

    running.set_route(shop("10.1.0.4:5000"))

    assert running.reloads == 2
    assert read_table(running.routes_file)["shop"].upstreams == ("10.1.0.4:5000",)


def test_with_nginx_down_only_the_file_changes(running):
    running.set_route(shop("10.1.0.2:5000"))
    running.control.reachable = False
    running.running = False

    running.set_route(shop("10.1.0.4:5000"))

    assert running.reloads == 1
    assert read_table(running.routes_file)["shop"].upstreams == ("10.1.0.4:5000",)


def test_an_unchanged_route_is_pushed_again_but_never_reloads(running):
    running.set_route(shop("10.1.0.2:5000"))
    running.control.routes.clear()  # nginx lost it somehow

    running.set_route(shop("10.1.0.2:5000"))  # the periodic reconcile

    assert running.control.routes["shop"].upstreams == ("10.1.0.2:5000",)
    assert running.reloads == 1


def test_routed_upstreams_are_what_nginx_serves_when_it_answers(running):
    running.set_route(shop("10.1.0.4:5000", "10.1.0.2:5000"))
    running.control.routes["shop"] = Route("0123456789ab", ("10.1.0.24:5000",))
    assert running.routed_upstreams("shop") == ("10.1.0.24:5000",)
    running.control.routes.clear()
    assert running.routed_upstreams("shop") is None


def test_routed_upstreams_come_from_the_file_when_nginx_does_not_answer(router):
    router.set_route(shop("10.1.0.4:5000", "10.1.0.2:5000"))
    router.set_route(AppRoute("idle", ("idle.localhost",), ()))
    assert router.routed_upstreams("shop") == ("10.1.0.2:5000", "10.1.0.4:5000")
    assert router.routed_upstreams("idle") == ()
    assert router.routed_upstreams("unknown") is None


def test_removing_routes_forgets_them_in_nginx_and_reloads_once(running):
    running.set_route(shop("10.1.0.2:5000"))
    running.set_route(AppRoute("blog", ("blog.localhost",), ("10.1.0.34:5000",)))
    (running.apps_dir / "Stray_File.conf").write_text("# left behind\n")
    assert running.routed_apps() == {"shop", "blog", "Stray_File"}

    running.remove_routes({"shop", "Stray_File"})

    assert running.routed_apps() == {"blog"}
    assert set(running.control.routes) == {"blog"}
    assert ("DELETE", "shop") in running.control.calls
    assert ("DELETE", "Stray_File") not in running.control.calls
    assert running.reloads == 3
