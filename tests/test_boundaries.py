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


# The HTTP layer of a domain: its routes (router.py, or <part>_router.py where a domain has several) and their
# dependencies, and the few adapters that are HTTP by nature.
HTTP_LAYER = {"router.py", "deps.py"}


def _http_layer(path: Path) -> bool:
    return path.name in HTTP_LAYER or path.name.endswith("_router.py")


HTTP_ADAPTERS = {
    "service/accounts/mtls.py",  # ASGI middleware reading the client certificate
    "service/idempotency/http.py",  # replays a stored HTTP answer
    "service/observability/middleware.py",  # ASGI middleware timing requests
}


def _domain_modules() -> list[Path]:
    """Every module of every domain package (service/<domain>/...), not only its service.py."""
    return [
        path
        for folder in sorted(p for p in ROOT.joinpath("service").iterdir() if p.is_dir())
        if folder.name not in {"wire", "kit", "__pycache__"}
        for path in sorted(folder.rglob("*.py"))
    ]


def test_no_domain_module_below_the_http_layer_imports_fastapi() -> None:
    for path in _domain_modules():
        if _http_layer(path) or path.relative_to(ROOT).as_posix() in HTTP_ADAPTERS:
            continue
        for name in _imports(path):
            assert not name.startswith(("fastapi", "starlette")), f"{path}: imports {name}"


def test_core_domains_never_import_a_router() -> None:
    # Rules call rules; only the app (and a router reusing another router's helpers) mounts routes.
    for path in _domain_modules():
        domain = path.relative_to(ROOT / "service").parts[0]
        if domain not in DOMAINS or _http_layer(path):
            continue
        for name in _imports(path):
            assert not name.endswith(".router"), f"{path}: imports {name}"


def test_guards_see_files() -> None:
    # The guards above would pass vacuously if the tree moved; make sure they read real files.
    assert len(_py("service/wire")) >= 2
    assert len(list(ROOT.joinpath("service").rglob("service.py"))) >= 4
    assert len(_domain_modules()) >= 50
    assert all((ROOT / adapter).is_file() for adapter in HTTP_ADAPTERS)


def test_only_the_virtual_card_holds_the_secure_channel() -> None:
    # The counter relays the issuer's SCP03 channel opaque (docs/card-admin.md §Agent): outside the emulated card,
    # nothing in the agent may import the code that could unwrap or forge it.
    for path in _py("clerk_agent"):
        if path.relative_to(ROOT).parts[:3] == ("clerk_agent", "card", "virtual"):
            continue
        assert "service.wire.scp03" not in _imports(path), f"{path}: imports the SCP03 channel"
        source = path.read_text()
        assert "scp03" not in source.replace("service.wire.scp03", ""), f"{path}: reaches the SCP03 channel"
