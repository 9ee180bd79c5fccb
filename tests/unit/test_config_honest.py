"""Config mistakes a new user makes get errors that say what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from pricewatch import cli, config
from pricewatch.config.schema import HttpConfig
from pricewatch.errors import ConfigError

OFFER = "products:\n  - id: k\n    name: Kettle\n    offers:\n      - url: {url}\n"


def error_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    return str(info.value)


def load_text(tmp_path: Path, text: str) -> config.Settings:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, environ={})


@pytest.mark.parametrize("value", ["90", "'90'", "1.5"])
def test_a_bare_number_is_not_a_duration(tmp_path: Path, value: str) -> None:
    """`interval: 90` in a file is an error naming the units, with the file's line."""
    message = error_of(tmp_path, f"schedule:\n  interval: {value}\n")
    assert "config.yaml:2: schedule.interval: a duration needs a unit" in message
    assert "ms, s, m, h, d, w" in message


def test_durations_with_units_and_zero_load(tmp_path: Path) -> None:
    """Units are accepted, 0 needs none, and Python callers may still pass seconds."""
    settings = load_text(tmp_path, "schedule:\n  interval: 1h30m\nhttp:\n  per_host_delay: 0\n")
    assert settings.model.schedule.interval == 5400
    assert settings.model.http.per_host_delay == 0
    assert HttpConfig.model_validate({"per_host_delay": 0.5}).per_host_delay == 0.5


def test_short_interval_at_a_real_shop_needs_an_opt_in(tmp_path: Path) -> None:
    """5s at a real host is refused at the line that set it; the opt-in and loopback pass."""
    text = OFFER.format(url="https://shop.example/k") + "        interval: 5s\n"
    message = error_of(tmp_path, text)
    assert "config.yaml:6: products[0].offers[0].interval: interval 5s is below the 60s" in message
    assert "allow_short_interval: true" in message
    assert load_text(tmp_path, text + "        allow_short_interval: true\n").offers()
    loopback = OFFER.format(url="http://127.0.0.1:8000/k") + "        interval: 5s\n"
    assert load_text(tmp_path, loopback).offers()[0].interval == 5


def test_short_schedule_interval_is_reported_once(tmp_path: Path) -> None:
    """A short global interval names schedule.interval once, however many offers use it."""
    text = ("schedule:\n  interval: 10s\n" + OFFER.format(url="https://a.example/1")
            + "      - url: https://b.example/2\n")
    message = error_of(tmp_path, text)
    assert message.count("is below the 60s floor") == 1
    assert "config.yaml:2: schedule.interval:" in message
    opted = "schedule:\n  interval: 10s\n  allow_short_interval: true\n" + text.split("\n", 2)[2]
    assert len(load_text(tmp_path, opted).offers()) == 2


def test_yaml_error_names_where_the_construct_began_and_broke(tmp_path: Path) -> None:
    """An unclosed `[` opened on line 3 and noticed on line 4 names both lines."""
    message = error_of(tmp_path, "schedule:\n  interval: 1h\nhttp: {headers: [a, b\n"
                                 "server:\n  port: 1\n")
    assert "config.yaml:3: invalid YAML" in message
    assert "begins here (line 3)" in message
    assert "at line 4" in message


@pytest.mark.parametrize(("text", "hint"), [
    ("schedule:\n  intervall: 1h\n", "schedule.intervall: unknown setting; did you mean "
                                     "'interval'?"),
    (OFFER.format(url="https://s.example/k") + "        selecter: '.p'\n",
     "products[0].offers[0].selecter: unknown setting; did you mean 'selector'?"),
    (OFFER.format(url="https://s.example/k") + "        fallback_auto: true\n",
     "unknown setting; did you mean 'fallback: auto'?"),
    ("stores:\n  s:\n    per_host_dealy: 1s\n", "did you mean 'per_host_delay'?"),
    ("produts: []\n", "produts: unknown setting; did you mean 'products'?"),
])
def test_unknown_keys_get_did_you_mean(tmp_path: Path, text: str, hint: str) -> None:
    """A misspelt key is answered with the closest allowed key at that place."""
    assert hint in error_of(tmp_path, text)


def test_unknown_key_with_nothing_close_gets_no_guess(tmp_path: Path) -> None:
    """No far-fetched guess for a key that resembles nothing."""
    message = error_of(tmp_path, "schedule:\n  zzzqqq: 1\n")
    assert message.endswith("unknown setting")


def test_config_option_on_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    """`-c DIR` says it is a directory and which file to give, not `[Errno 21]`."""
    assert cli.main(["validate", "-c", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: is a directory" in err
    assert str(tmp_path / "config.yaml") in err
    assert "Errno" not in err
