"""Architecture guards from STYLE.md: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = {"tenancy", "accounts", "cases", "audit", "idempotency", "cardproof"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _py(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", ["service/wire", "clerk_agent"])
def test_agent_side_never_imports_sqlalchemy_or_hub_domains(folder: str) -> None:
    for path in _py(folder):
        for name in _imports(path):
            assert not name.startswith(("sqlalchemy", "fastapi", "alembic")), f"{path}: imports {name}"
            if name.startswith("service."):
                assert name.startswith("service.wire"), f"{path}: imports {name}"


def test_kit_never_imports_a_domain() -> None:
    for path in _py("service/kit"):
        for name in _imports(path):
            if name.startswith("service."):
                assert name.startswith("service.kit"), f"{path}: imports {name}"


def test_no_service_module_imports_fastapi() -> None:
    for path in ROOT.joinpath("service").rglob("service.py"):
        for name in _imports(path):
            assert not name.startswith(("fastapi", "starlette")), f"{path}: imports {name}"


def test_guards_see_files() -> None:
    # The guards above would pass vacuously if the tree moved; make sure they read real files.
    assert len(_py("service/wire")) >= 2
    assert len(list(ROOT.joinpath("service").rglob("service.py"))) >= 4
