"""The cluster's coturn configuration (deploy/cluster/turn.py) is the shipped deploy/coturn/turnserver.conf with
only this machine's values replaced: the shipped policy stays, nothing listens beyond 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from deploy.cluster.turn import MACHINE_OPTIONS, SHIPPED_CONFIG, cluster_config


def _options(text: str) -> list[tuple[str, str]]:
    pairs = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def test_cluster_config_keeps_the_shipped_policy_on_loopback(tmp_path: Path) -> None:
    shipped = _options(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    derived = _options(
        cluster_config(port=34780, relay_ports=(50100, 50199), secret="s3cret", directory=tmp_path)
    )
    policy = [pair for pair in shipped if pair[0] not in MACHINE_OPTIONS]
    assert {"use-auth-secret", "user-quota", "total-quota", "denied-peer-ip", "no-cli"} <= {
        k for k, _ in policy
    }
    assert all(pair in derived for pair in policy)
    values = dict(derived)
    for option in MACHINE_OPTIONS:
        assert [key for key, _ in derived].count(option) == 1, option
    assert values["listening-ip"] == "127.0.0.1"
    assert values["relay-ip"] == "127.0.0.1"
    assert (values["listening-port"], values["min-port"], values["max-port"]) == ("34780", "50100", "50199")
    assert values["static-auth-secret"] == "s3cret"
    assert values["allowed-peer-ip"] == "127.0.0.1"
    assert values["userdb"] == str(tmp_path / "turndb")
