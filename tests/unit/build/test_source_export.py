import io
import tarfile

import pytest

from paas.build import source
from paas.errors import UserError


def _archive(name: str) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = b"x"
        member = tarfile.TarInfo(name)
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    buffer.seek(0)
    return tarfile.open(fileobj=buffer, mode="r:")


@pytest.mark.parametrize("name", ["../escape", "/etc/escape", "a/../../escape"])
def test_it_refuses_paths_outside_the_tree_without_tarfiles_filter(name, tmp_path,
                                                                    monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    with pytest.raises(UserError) as error:
        source._extract_safely(_archive(name), tmp_path / "tree")
    assert error.value.code == "unsafe_path"
    assert not (tmp_path / "escape").exists()


def test_it_extracts_an_ordinary_tree_without_tarfiles_filter(tmp_path, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    source._extract_safely(_archive("app/server.py"), tmp_path)
    assert (tmp_path / "app" / "server.py").read_bytes() == b"x"
