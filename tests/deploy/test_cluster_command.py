"""`deploy/cluster/up`, the operator's one command for the cluster on one machine (docs/operations.md §Cluster).

The cluster itself is started by tests/cluster; here only that the command exists, runs and documents its options.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_up_runs_the_launcher_and_names_its_options() -> None:
    up = ROOT / "deploy" / "cluster" / "up"
    assert os.access(up, os.X_OK)
    done = subprocess.run(
        [str(up), "--help"],
        env={**os.environ, "MADOGUCHI_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for option in ("--replicas", "--port", "--workdir", "--dev-pki", "--turn"):
        assert option in done.stdout
