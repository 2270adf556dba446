"""A BUILDPACK_URL's credentials never reach the build log or an error message."""

import re

import pytest

from paas.build.buildpacks import redact_url, resolve_selection
from paas.errors import UserError


@pytest.mark.parametrize(("url", "shown"), [
    ("http://owner:s3cret@127.0.0.1:8000/git/bp.git#buildpack",
     "http://***@127.0.0.1:8000/git/bp.git#buildpack"),
    ("https://tok@example.com/bp.git", "https://***@example.com/bp.git"),
    ("https://example.com/bp.git#v1", "https://example.com/bp.git#v1"),
    ("python", "python"),
    ("/srv/buildpacks/ruby", "/srv/buildpacks/ruby"),
])
def test_it_hides_the_userinfo_of_a_url(url, shown):
    assert redact_url(url) == shown


def test_a_failed_clone_names_the_url_without_its_token(tmp_path, monkeypatch):
    # A closed loopback port: the clone fails at once, and never leaves the machine.
    monkeypatch.setattr("paas.build.buildpacks.GIT_CLONE_TIMEOUT", 30)
    url = "http://owner:s3cret-token@127.0.0.1:9/git/bp.git#main"
    with pytest.raises(UserError) as raised:
        resolve_selection(url, tmp_path, None)
    assert raised.value.code == "buildpack_fetch_failed"
    message = str(raised.value)
    assert "s3cret-token" not in message
    assert re.search(r"could not clone buildpack http://\*\*\*@127\.0\.0\.1:9/git/bp\.git",
                     message)
