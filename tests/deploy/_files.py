"""Readers of the deployment files: systemd units, the Containerfile, the Kubernetes manifests, the Grafana
dashboard."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
DASHBOARD = DEPLOY / "grafana" / "madoguchi-hub.json"
# Where docs/operations.md installs the virtual environment; units and the image both name commands by it.
VENV_BIN = "/opt/madoguchi/.venv/bin/"


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """Every (section, key, value) of a unit file in order; keys may repeat (LoadCredential=, Environment=)."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(path: Path, key: str) -> list[str]:
    """The values of `key` in the [Service] section."""
    return [value for section, name, value in unit_entries(path) if section == "Service" and name == key]


def program_command(exec_line: str) -> list[str]:
    """An Exec*= line as the program's own argv: the virtual environment prefix dropped (`hub serve`)."""
    argv = shlex.split(exec_line)
    return [argv[0].removeprefix(VENV_BIN), *argv[1:]]


def containerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        name, _, arguments = whole.partition(" ")
        instructions.append((name.upper(), arguments.strip()))
    return instructions


def exec_form(arguments: str) -> list[str]:
    """The argv of an ENTRYPOINT/CMD in exec (JSON) form; the shell form is refused (signals would miss the hub)."""
    value = json.loads(arguments)
    if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
        raise ValueError(f"not the exec form: {arguments}")
    return list(value)


def manifest_documents() -> list[tuple[Path, dict[str, Any]]]:
    """Every YAML document of every file in deploy/k8s, with its file."""
    documents: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document is not None:
                documents.append((path, document))
    return documents


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of the Grafana dashboard, and its templating queries."""
    model = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [
        (panel["title"], target["expr"]) for panel in model["panels"] for target in panel.get("targets", [])
    ]
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            queries.append((f"${variable['name']}", variable["definition"]))
    return queries
