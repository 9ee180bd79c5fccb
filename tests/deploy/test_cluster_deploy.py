"""Cluster mode's deployment files: the Kubernetes manifest and the cluster Prometheus config."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pricewatch import config
from tests.deploy.support import KUBERNETES, PROMETHEUS_DIR, run, tool


def _documents() -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(KUBERNETES.read_text(encoding="utf-8")) if d]


def test_manifest_is_a_configmap_and_a_cluster_deployment() -> None:
    """The manifest holds a ConfigMap and a Deployment of several `run --cluster` replicas that
    mounts it, probes /readyz and /healthz, and takes the database URL from a Secret."""
    docs = {str(d["kind"]): d for d in _documents()}
    assert set(docs) == {"ConfigMap", "Deployment"}
    spec = docs["Deployment"]["spec"]  # type: ignore[index]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert "--cluster" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e for e in container["env"]}
    assert "secretKeyRef" in env["PRICEWATCH_DATABASE_URL"]["valueFrom"]
    assert pod["volumes"][0]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]  # type: ignore[index]


def test_the_configmaps_config_is_a_valid_cluster_config() -> None:
    """config.yaml in the ConfigMap loads, in cluster mode, once the Secret's URL is set."""
    cm = next(d for d in _documents() if d["kind"] == "ConfigMap")
    text = cm["data"]["config.yaml"]  # type: ignore[index]
    settings = config.loads(text, environ={"PRICEWATCH_DATABASE_URL":
                                           "postgresql://u:p@postgres:5432/pricewatch"})
    assert settings.cluster_mode()
    assert settings.model.server.host == "0.0.0.0"


@pytest.mark.slow
def test_promtool_checks_the_cluster_prometheus_config(tmp_path: Path) -> None:
    """prometheus/cluster/prometheus.yml, next to the rules it is mounted with, passes
    `promtool check config`."""
    promtool = tool("promtool", "apt-get install prometheus (CI installs it)")
    shutil.copy(PROMETHEUS_DIR / "cluster" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(PROMETHEUS_DIR / "rules.yml", tmp_path / "rules.yml")
    result = run([promtool, "check", "config", "prometheus.yml"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
