"""Config loading: every kind of mistake names file, line and field; good files resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from pricewatch import cli, config
from pricewatch.errors import ConfigError

GOOD = """\
database:
  url: sqlite:///data/pw.db
http:
  per_host_delay: 2s
  user_agent: ${UA:-pricewatch-test}
stores:
  acme:
    hosts: [shop.example]
    per_host_delay: 500ms
    headers: {X-Token: "${TOKEN}"}
    currency: EUR
products:
  - id: kettle
    name: Kettle
    interval: 30m
    offers:
      - url: https://shop.example/kettle
        selector: ".price"
      - url: https://www.other.example/k?id=1
        xpath: "//span[@id='p']/text()"
        interval: 6h
"""


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> config.Settings:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, environ=env or {})


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, env)
    return str(info.value)


def test_good_config_resolves_layers(tmp_path: Path) -> None:
    """Store, product and offer settings override the global ones in that order."""
    settings = load_text(tmp_path, GOOD, {"TOKEN": "s3cret"})
    first, second = settings.offers()
    assert first.key == "kettle@acme"
    assert first.fetch.per_host_delay == 0.5
    assert dict(first.fetch.headers) == {"X-Token": "s3cret"}
    assert first.fetch.user_agent == "pricewatch-test"
    assert first.extract.currency == "EUR"
    assert first.interval == 1800
    assert second.key == "kettle@other.example"
    assert second.fetch.per_host_delay == 2.0
    assert second.interval == 6 * 3600
    assert settings.database_url == f"sqlite:///{(tmp_path / 'data/pw.db').resolve()}"


def test_default_database_is_next_to_the_config(tmp_path: Path) -> None:
    """Without database.url the SQLite file sits beside the config file."""
    settings = load_text(tmp_path, "products: []\n")
    assert settings.database_url == f"sqlite:///{(tmp_path / 'pricewatch.db').resolve()}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "products:\n  - id: a\n    name: A\n    offers:\n      - url: ftp://x/y\n",
            "config.yaml:5: products[0].offers[0].url: not an http(s) URL",
        ),
        (
            "products:\n  - id: a\n    name: A\n    offers:\n      - url: http://x/y\n"
            "        selector: '..price'\n",
            "config.yaml:6: products[0].offers[0].selector: invalid CSS selector '..price'",
        ),
        (
            "products:\n  - id: a\n    name: A\n    offers:\n      - url: http://x/y\n"
            "        xpath: '//div['\n",
            "config.yaml:6: products[0].offers[0].xpath: invalid XPath",
        ),
        (
            "products:\n  - id: a\n    name: A\n    offers:\n      - url: http://x/y\n"
            "        colour: red\n",
            "config.yaml:6: products[0].offers[0].colour: unknown setting",
        ),
        (
            "products:\n  - id: a\n    name: A\n    offers: [{url: 'http://x/1'}]\n"
            "  - id: a\n    name: B\n    offers: [{url: 'http://x/2'}]\n",
            "config.yaml:5: products[1].id: duplicate product id 'a'",
        ),
        (
            "products:\n  - id: a\n    name: A\n    offers: [{url: 'http://x/1'}]\n"
            "    name: again\n",
            "config.yaml:5: products[0].name: duplicate key 'name'",
        ),
        ("products:\n  - id: a\n    name: [unclosed\n", "config.yaml:3: invalid YAML"),
        (
            "http:\n  user_agent: ${MISSING_UA}\n",
            "config.yaml:2: http.user_agent: environment variable MISSING_UA is not set",
        ),
        (
            "schedule:\n  interval: soon\n",
            "config.yaml:2: schedule.interval: expected a duration like 30s",
        ),
        (
            "products:\n  - id: Not A Slug\n    name: A\n    offers: [{url: 'http://x/1'}]\n",
            "config.yaml:2: products[0].id: must be a slug",
        ),
        (
            "products:\n  - id: a\n    name: A\n    offers:\n      - url: http://x/1\n"
            "      - url: http://x/2\n",
            "config.yaml:6: products[0].offers[1]: product 'a' already has an offer at store 'x'",
        ),
    ],
    ids=["url", "css", "xpath", "unknown-key", "duplicate-id", "duplicate-key", "yaml-syntax",
         "missing-env", "duration", "slug", "duplicate-offer"],
)
def test_bad_config_names_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    """Each kind of mistake is reported as file:line: field: reason."""
    message = error_of(tmp_path, text)
    assert expected in message, message
    assert message.startswith(str(tmp_path / "config.yaml").rsplit("/", 1)[0])


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    """A file with two mistakes lists both, in line order."""
    message = error_of(
        tmp_path,
        "products:\n  - id: a\n    name: A\n    offers:\n      - url: nope\n        bogus: 1\n",
    )
    lines = message.splitlines()
    assert len(lines) == 2
    assert ":5: products[0].offers[0].url" in lines[0]
    assert ":6: products[0].offers[0].bogus: unknown setting" in lines[1]


def test_env_default_and_dollar_escape(tmp_path: Path) -> None:
    """${VAR:-default} falls back when unset or empty; $$ is a literal dollar sign."""
    settings = load_text(tmp_path, "http:\n  user_agent: 'a ${X:-b} $${Y}'\n", {"X": ""})
    assert settings.model.http.user_agent == "a b ${Y}"


def test_cli_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`pricewatch validate` prints a one-line summary, or the error and exit code 2."""
    good = tmp_path / "good.yaml"
    good.write_text(GOOD.replace("${TOKEN}", "t"), encoding="utf-8")
    assert cli.main(["validate", "-c", str(good)]) == 0
    out = capsys.readouterr().out
    assert "OK: 1 products, 2 offers at 2 stores" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("products:\n  - id: a\n    name: A\n    offers: [{url: 'x'}]\n")
    assert cli.main(["validate", "-c", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}:4: products[0].offers[0].url: not an http(s) URL")
    assert "Traceback" not in err
    assert cli.main(["validate", "-c", str(tmp_path / "missing.yaml")]) == 2


def test_duration_and_size_parsing() -> None:
    """Durations and sizes accept the forms the example config documents."""
    assert config.parse_duration("1h30m") == 5400
    assert config.parse_duration("250ms") == 0.25
    assert config.parse_duration(90) == 90
    assert config.parse_size("10MB") == 10_000_000
    assert config.parse_size("512KiB") == 512 * 1024
    with pytest.raises(ValueError, match="duration"):
        config.parse_duration("1x")


def test_capacity_warning_when_a_host_cannot_keep_up(tmp_path: Path) -> None:
    """5 offers every 10 s on one host with a 4 s delay need 0.5 req/s but 0.25 are allowed."""
    offers = "".join(f"  - id: p{i}\n    name: P\n    interval: 10s\n    offers:\n"
                     f"      - url: http://slow.example/{i}\n" for i in range(5))
    short = "schedule:\n  allow_short_interval: true\n"  # 10 s at a real host needs it
    settings = load_text(tmp_path, short + "http:\n  per_host_delay: 4s\nproducts:\n" + offers)
    (warning,) = settings.capacity_warnings()
    assert warning.startswith("host slow.example: the schedule asks for 1800 checks/hour")
    assert "allows at most 900" in warning
    relaxed = load_text(tmp_path, short + "http:\n  per_host_delay: 1s\nproducts:\n" + offers)
    assert relaxed.capacity_warnings() == []


def test_environment_overrides_database_and_server(tmp_path: Path) -> None:
    """PRICEWATCH_DATABASE_URL / _SERVER_HOST / _SERVER_PORT win over the file's values."""
    text = "database:\n  url: sqlite:///a.db\nserver:\n  host: 127.0.0.1\n"
    settings = load_text(tmp_path, text, {"PRICEWATCH_DATABASE_URL": "postgresql://h/db",
                                          "PRICEWATCH_SERVER_HOST": "0.0.0.0",
                                          "PRICEWATCH_SERVER_PORT": "9200"})
    assert settings.database_url == "postgresql://h/db"
    assert settings.model.server.host == "0.0.0.0"
    assert settings.model.server.port == 9200
    assert load_text(tmp_path, "").model.server.host == "127.0.0.1"
    remote = load_text(tmp_path, "", {"PRICEWATCH_BROWSER_ENDPOINT": "ws://browser:3000/"})
    assert remote.model.browser.endpoint == "ws://browser:3000/"
