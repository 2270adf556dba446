"""Reading bin/release output: the YAML buildpacks print, or JSON."""

import pytest

from paas.build.buildpack_runner import parse_release_output
from paas.errors import UserError


def test_it_reads_classic_yaml():
    text = b"---\naddons: []\ndefault_process_types:\n  web: npm start\n  worker: 'node w.js'\n"
    assert parse_release_output(text) == {"web": "npm start", "worker": "node w.js"}


def test_commands_may_hold_colons_and_dollars():
    text = b"default_process_types:\n  web: gunicorn app:app --bind 0.0.0.0:$PORT\n"
    assert parse_release_output(text) == {"web": "gunicorn app:app --bind 0.0.0.0:$PORT"}


@pytest.mark.parametrize("text", [b"", b"---\ndefault_process_types: {}\n", b"--- {}\n",
                                  b"config_vars:\n  A: b\n"])
def test_no_defaults(text):
    assert parse_release_output(text) == {}


def test_it_reads_json():
    assert parse_release_output(b'{"default_process_types": {"web": "./run"}}') == {
        "web": "./run"}


@pytest.mark.parametrize("text", [b"{nope", b"default_process_types: web\n",
                                  b"default_process_types:\n  just-a-word\n"])
def test_it_rejects_what_it_cannot_read(text):
    with pytest.raises(UserError) as raised:
        parse_release_output(text)
    assert raised.value.code == "invalid_release_output"
