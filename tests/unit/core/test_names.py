import pytest

from paas.errors import UserError
from paas.names import validate_app_name, validate_config_key


@pytest.mark.parametrize("name", ["a", "hello", "my-app-2", "a" * 30])
def test_it_accepts_valid_app_names(name):
    assert validate_app_name(name) == name


@pytest.mark.parametrize("name", ["", "Hello", "2app", "-app", "a" * 31, "../x", "a.b", "a_b"])
def test_it_rejects_invalid_app_names_without_rewriting_them(name):
    with pytest.raises(UserError) as error:
        validate_app_name(name)
    assert error.value.code == "invalid_app_name"


@pytest.mark.parametrize("key", ["1X", "A-B", "A B", ""])
def test_it_rejects_invalid_config_keys(key):
    with pytest.raises(UserError):
        validate_config_key(key)
