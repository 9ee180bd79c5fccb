"""prometheus/: promtool accepts the config and rules, and the rule unit tests pass."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.deploy.support import PROMETHEUS_DIR, RULES, load_yaml, rule_queries, run, tool

pytestmark = pytest.mark.slow

WHY = "apt-get install prometheus; .ci/run installs it"


def test_promtool_checks_the_config_and_its_rule_files() -> None:
    """`promtool check config` accepts prometheus.yml and the rule files it loads."""
    promtool = tool("promtool", WHY)
    result = run([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules.yml" in load_yaml(PROMETHEUS_DIR / "prometheus.yml")["rule_files"]


def test_promtool_checks_the_rules() -> None:
    """`promtool check rules` accepts rules.yml (PromQL parses, names and labels are valid)."""
    promtool = tool("promtool", WHY)
    result = run([promtool, "check", "rules", RULES])
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    """`promtool test rules rules.test.yml`: each alert fires when it should and not before."""
    promtool = tool("promtool", WHY)
    result = run([promtool, "test", "rules", "rules.test.yml"], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    """The rule tests bite: with the failing-store threshold moved from 50 % to 95 % they fail."""
    promtool = tool("promtool", WHY)
    copy = shutil.copytree(PROMETHEUS_DIR, tmp_path / "prometheus")
    rules = copy / "rules.yml"
    text = rules.read_text(encoding="utf-8")
    assert "pricewatch:store_failure_ratio:rate15m > 0.5\n" in text
    rules.write_text(text.replace("rate15m > 0.5\n", "rate15m > 0.95\n"), encoding="utf-8")
    result = run([promtool, "test", "rules", "rules.test.yml"], cwd=copy)
    assert result.returncode != 0
    assert "PricewatchStoreFailing" in result.stdout + result.stderr


def test_price_alerts_are_left_to_pricewatch() -> None:
    """No rule alerts on prices or stock: pricewatch's own alert rules do that, once per event;
    a second, Prometheus-side copy would alert twice and differently."""
    for query in rule_queries(load_yaml(RULES)):
        assert "pricewatch_price" not in query.expr, query.where
        assert "pricewatch_in_stock" not in query.expr, query.where


def test_every_alert_is_tested_documented_and_graded() -> None:
    """Each alert has a severity, a summary and a description, and appears in rules.test.yml."""
    rules = load_yaml(RULES)
    tested = (PROMETHEUS_DIR / "rules.test.yml").read_text(encoding="utf-8")
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
            assert f"alertname: {rule['alert']}" in tested, f"{rule['alert']} has no rule test"


def test_recording_rules_follow_the_naming_convention() -> None:
    """Recorded series are named level:metric:operations, as Prometheus recommends."""
    for query in rule_queries(load_yaml(RULES)):
        if query.kind == "record":
            level, metric, operations = query.name.split(":")
            assert level == "pricewatch", query.name
            assert metric, query.name
            assert operations, query.name
