"""A Router on a temporary PAAS_HOME whose nginx "runs" as a fake: its control endpoint is a
FakeControl and its reloads are counted, so no unit test starts nginx (``nginx -t`` runs for
real: it starts nothing)."""

import pytest

from paas.router.nginx import Router
from paas.router.route_table import ControlUnreachable, Route, parse_route


class FakeControl:
    """The route table of a running nginx, as its control endpoint shows it."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.reachable = True
        self.calls: list[tuple[str, str]] = []

    def _answer(self, method: str, app: str) -> None:
        self.calls.append((method, app))
        if not self.reachable:
            raise ControlUnreachable("the fake control socket does not answer")

    def get(self, app: str) -> Route | None:
        self._answer("GET", app)
        return self.routes.get(app)

    def put(self, app: str, route: Route) -> None:
        self._answer("PUT", app)
        # What the Lua side checks: the text must parse.
        self.routes[app] = parse_route(route.text)

    def delete(self, app: str) -> None:
        self._answer("DELETE", app)
        self.routes.pop(app, None)


class RunningRouter(Router):
    """A Router whose nginx is "running": reloads are counted instead of signalled."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.control = FakeControl()
        self.reloads = 0
        self.running = True

    def is_running(self) -> bool:
        return self.running

    def reload(self, settle_timeout: float = 15.0) -> None:
        self.reloads += 1

    def wait_until_serving(self, route, timeout: float) -> bool:
        return True


def _configured(router_class: type[Router], tmp_path) -> Router:
    router = router_class(nginx_dir=tmp_path / "nginx", log_dir=tmp_path / "logs",
                          run_dir=tmp_path / "run", port=18999, tls_port=18998)
    router.write_main_config()
    return router


@pytest.fixture
def router(tmp_path) -> Router:
    """A router whose nginx is not running (no control socket answers)."""
    return _configured(Router, tmp_path)


@pytest.fixture
def running(tmp_path) -> RunningRouter:
    return _configured(RunningRouter, tmp_path)
