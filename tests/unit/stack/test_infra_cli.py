"""`interforces infra nats-config` and `infra unit-keys` write what the deployment needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.credentials import unit_key_path
from contracts.vocabulary import Agency
from infra.nats.cluster import CONFIG_DIR, cluster_configs
from interforces.cli import app

pytestmark = pytest.mark.unit


def test_nats_config_writes_the_three_checked_in_node_configs(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["infra", "nats-config", "--cluster", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == ["cluster-n1.conf", "cluster-n2.conf", "cluster-n3.conf"]
    for name in written:
        assert (tmp_path / name).read_text() == (CONFIG_DIR / name).read_text()
    assert set(cluster_configs()) == set(written)


def test_nats_config_without_cluster_writes_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["infra", "nats-config", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_unit_keys_are_created_in_the_secrets_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["infra", "unit-keys"], env={"IFC_SECRETS_DIR": str(tmp_path / "secrets")}
    )
    assert result.exit_code == 0, result.output
    assert unit_key_path(tmp_path / "secrets", Agency.MEDIATION).exists()
