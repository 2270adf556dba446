import pytest

from paas.build.procfile import parse_procfile
from paas.errors import UserError


def test_it_reads_process_types_and_skips_comments_and_blank_lines():
    text = "# the web process\n\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\nworker:  python w.py\n"
    assert parse_procfile(text) == {
        "web": "gunicorn app:app --bind 0.0.0.0:$PORT",
        "worker": "python w.py",
    }


@pytest.mark.parametrize("text", ["web gunicorn", "Web: x", "web:", "web: a\nweb: b"])
def test_it_rejects_malformed_procfiles(text):
    with pytest.raises(UserError) as error:
        parse_procfile(text)
    assert error.value.code == "invalid_procfile"
