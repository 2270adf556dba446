import pytest

from paas.errors import PlatformError
from paas.router.route_table import Route, parse_route, read_table, write_table


def test_a_route_reads_back_as_written():
    route = Route("0123456789ab", ("10.1.0.2:5000", "10.1.0.4:5000"))
    assert route.text == "0123456789ab 10.1.0.2:5000 10.1.0.4:5000"
    assert parse_route(route.text) == route
    assert parse_route("0123456789ab") == Route("0123456789ab", ())


def test_a_bare_port_as_earlier_tables_held_it_is_a_loopback_port():
    assert parse_route("0123456789ab 32768 10.1.0.2:5000") == Route(
        "0123456789ab", ("127.0.0.1:32768", "10.1.0.2:5000"))


@pytest.mark.parametrize("text", [
    "", "0123456789a", "0123456789abc", "0123456789AB 80", "0123456789ab  80",
    "0123456789ab 80 ", "0123456789ab 0", "0123456789ab 65536", "0123456789ab 080",
    "0123456789ab 80 80", "0123456789ab -1", "0123456789ab 8.0", "0123456789ab x",
    "0123456789ab 10.1.0.2:0", "0123456789ab 10.1.0.2:65536", "0123456789ab 10.1.0.256:80",
    "0123456789ab 010.1.0.2:80", "0123456789ab 10.1.0:80", "0123456789ab shop:80",
    "0123456789ab 10.1.0.2:80 10.1.0.2:80", "0123456789ab 10.1.0.2:", "0123456789ab [::1]:80",
    "0123456789ab 80 127.0.0.1:80",
])
def test_it_refuses_text_that_is_not_a_route(text):
    with pytest.raises(PlatformError) as error:
        parse_route(text)
    assert error.value.code == "invalid_route"


def test_the_table_file_round_trips_and_skips_bad_lines(tmp_path):
    path = tmp_path / "routes.txt"
    table = {"shop": Route("0123456789ab", ("10.1.0.2:5000",)), "idle": Route("ba9876543210", ())}
    write_table(path, table)
    assert read_table(path) == table
    path.write_text(path.read_text() + "Bad_Name 0123456789ab 80\nblog 0123456789ab 99999\n")
    assert read_table(path) == table
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_missing_table_file_is_an_empty_table(tmp_path):
    assert read_table(tmp_path / "routes.txt") == {}
