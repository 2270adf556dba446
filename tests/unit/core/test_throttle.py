"""Whose address the login throttle counts failures for (paas.core.throttle.client_address)."""

from paas.core.throttle import client_address


def test_the_peer_counts_and_a_header_it_sends_is_not_believed(settings):
    settings.PAAS_CONTROL_DOMAIN = None
    meta = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_REAL_IP": "203.0.113.9"}
    assert client_address(meta) == "127.0.0.1"


def test_behind_the_router_its_client_counts(settings):
    settings.PAAS_CONTROL_DOMAIN = "paas.example.com"
    assert client_address({"REMOTE_ADDR": "127.0.0.1",
                           "HTTP_X_REAL_IP": "203.0.113.9"}) == "203.0.113.9"
    # Only the router (on loopback) is believed.
    assert client_address({"REMOTE_ADDR": "10.1.2.3",
                           "HTTP_X_REAL_IP": "203.0.113.9"}) == "10.1.2.3"
    assert client_address({"REMOTE_ADDR": "127.0.0.1"}) == "127.0.0.1"
