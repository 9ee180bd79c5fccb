"""Docs as tests: the README and the example config tell the truth about the program."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pricewatch import cli, config
from pricewatch.config.browser import BrowserConfig, StepConfig

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands() -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", commands())
def test_every_command_is_documented_with_help(name: str, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    """Each CLI command appears in the README's command table and answers --help."""
    assert re.search(rf"`pricewatch {name}\b", README), f"README does not document {name}"
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out) > 100


def test_example_config_is_valid_and_covers_every_option() -> None:
    """config.example.yaml loads, and names every setting the schema has."""
    settings = config.load(ROOT / "config.example.yaml", environ={})
    assert settings.offers()
    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    models = [config.SettingsModel, config.HttpConfig, config.ScheduleConfig,
              config.ServerConfig, config.DatabaseConfig, config.StoreConfig,
              config.ProductConfig, config.OfferConfig, config.TimeoutsConfig,
              config.RetryConfig, config.CircuitBreakerConfig, config.ListingConfig,
              config.ClusterConfig,
              BrowserConfig, StepConfig]  # the browser fetcher's (config/browser.py)
    missing = [f"{m.__name__}.{name}" for m in models for name in m.model_fields
               if not re.search(rf"^\s*#?\s*-?\s*{name}:", text, re.MULTILINE)]
    assert missing == []


def test_readme_quick_start_commands_exist() -> None:
    """The two first commands of the README are Makefile targets."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make demo" in README.split("##")[0]
    assert "make test" in README.split("##")[0]
    assert re.search(r"^demo:", makefile, re.MULTILINE)
    assert re.search(r"^test:", makefile, re.MULTILINE)


def test_readme_command_lines_parse() -> None:
    """Every `$ pricewatch ...` line the README shows is accepted by the real parser."""
    import shlex

    lines = re.findall(r"^\$ pricewatch (.+)$", README, re.MULTILINE)
    assert len(lines) >= 5
    parser = cli.build_parser()
    for line in lines:
        argv = shlex.split(line.split("|")[0])
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"README command does not parse: pricewatch {line}") from exc
