"""`server.auth`: the web UI's basic-auth settings, with the password from the environment."""

from __future__ import annotations

import pytest

from pricewatch.config import loads
from pricewatch.errors import ConfigError

BASE = "products:\n  - id: p\n    name: P\n    offers:\n      - url: https://shop.example/p\n"


def test_password_comes_from_the_environment() -> None:
    """`${VAR}` in server.auth.password is read from the given environment and kept secret
    (it never shows in the settings' repr)."""
    text = ("server:\n  auth:\n    username: me\n    password: ${UI_PASSWORD}\n" + BASE)
    settings = loads(text, environ={"UI_PASSWORD": "hunter22"})
    auth = settings.model.server.auth
    assert auth is not None
    assert auth.username == "me"
    assert auth.password.get_secret_value() == "hunter22"
    assert "hunter22" not in repr(settings.model.server)
    assert auth.metrics is False


def test_missing_password_is_a_config_error() -> None:
    """An unset variable or an empty password is rejected with the file position."""
    text = ("server:\n  auth:\n    username: me\n    password: ${UI_PASSWORD}\n" + BASE)
    with pytest.raises(ConfigError, match="UI_PASSWORD"):
        loads(text, environ={})
    with pytest.raises(ConfigError, match="password"):
        loads("server:\n  auth:\n    username: me\n    password: ''\n" + BASE)


def test_no_auth_by_default() -> None:
    """Without server.auth the UI asks for nothing (it listens on 127.0.0.1)."""
    assert loads(BASE).model.server.auth is None
