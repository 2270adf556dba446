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


@pytest.mark.parametrize("text", [b"default_process_types: {web: ./serve}\n",
                                  b"{default_process_types: {web: ./serve}}\n",
                                  b"default_process_types: {\n  web: ./serve,\n}\n"])
def test_it_reads_flow_mappings(text):
    assert parse_release_output(text) == {"web": "./serve"}


def test_it_reads_quoted_commands():
    text = (b"default_process_types:\n"
            b"  web: \"node \\\"my app\\\".js --port $PORT\"\n"
            b"  worker: 'echo ''hi'''\n"
            b"  'clock': \"ruby clock.rb\"\n")
    assert parse_release_output(text) == {"web": 'node "my app".js --port $PORT',
                                          "worker": "echo 'hi'", "clock": "ruby clock.rb"}


def test_it_skips_comments():
    text = (b"# printed by bin/release\n---\n"
            b"default_process_types:  # the buildpack's defaults\n"
            b"  # web serves HTTP\n"
            b"  web: ./serve  # on $PORT\n")
    assert parse_release_output(text) == {"web": "./serve"}


def test_it_reads_block_scalars():
    text = b"default_process_types:\n  web: >-\n    gunicorn app:app\n    --workers 2\n"
    assert parse_release_output(text) == {"web": "gunicorn app:app --workers 2"}


@pytest.mark.parametrize("text", [b"", b"---\n", b"# nothing\n",
                                  b"---\ndefault_process_types: {}\n", b"--- {}\n",
                                  b"default_process_types:\n", b"config_vars:\n  A: b\n"])
def test_no_defaults(text):
    assert parse_release_output(text) == {}


def test_it_reads_json():
    assert parse_release_output(b'{"default_process_types": {"web": "./run"}}') == {
        "web": "./run"}


def test_it_reads_json_indented_with_tabs():
    # Valid JSON that PyYAML refuses: YAML forbids tabs where JSON allows them.
    text = b'{\n\t"default_process_types": {\n\t\t"web": "./run"\n\t}\n}\n'
    assert parse_release_output(text) == {"web": "./run"}


@pytest.mark.parametrize("text", [
    b"{nope",
    b"default_process_types: {web: ./serve\n",
    b"default_process_types:\n  web: a\n web: b\n",
    b"---\ndefault_process_types: {}\n---\naddons: []\n",
])
def test_it_rejects_output_that_is_not_yaml(text):
    with pytest.raises(UserError) as raised:
        parse_release_output(text)
    assert raised.value.code == "invalid_release_output"
    assert "not YAML" in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("text", [b"just some words\n", b"- web\n- worker\n", b"42\n"])
def test_it_rejects_output_that_is_not_a_mapping(text):
    with pytest.raises(UserError) as raised:
        parse_release_output(text)
    assert raised.value.code == "invalid_release_output"
    assert "not a mapping" in str(raised.value)


@pytest.mark.parametrize("text", [b"default_process_types: web\n",
                                  b"default_process_types:\n  just-a-word\n",
                                  b"default_process_types:\n  - web: ./serve\n"])
def test_it_rejects_default_process_types_that_are_not_a_mapping(text):
    with pytest.raises(UserError) as raised:
        parse_release_output(text)
    assert raised.value.code == "invalid_release_output"
    assert "default_process_types is not a mapping" in str(raised.value)


@pytest.mark.parametrize(("text", "problem"), [
    (b"default_process_types:\n  web:\n", "process type 'web' needs a command, got None"),
    (b"default_process_types:\n  web: 8080\n", "process type 'web' needs a command, got 8080"),
    (b"default_process_types:\n  web: [a, b]\n", "process type 'web' needs a command"),
    (b"default_process_types: {1: ./serve}\n", "1 is not a process type name"),
])
def test_it_rejects_process_types_that_are_not_names_and_commands(text, problem):
    with pytest.raises(UserError) as raised:
        parse_release_output(text)
    assert raised.value.code == "invalid_release_output"
    assert problem in str(raised.value)
