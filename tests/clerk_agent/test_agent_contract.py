"""Guards of the agent's side of the contract (docs/architecture.md §3): read from the source, no agent running.

- The flow modules import in one direction: no import circle among clerk_agent.flows, counting imports made only
  for the type checker (a step that needs the counter flow's type reaches back into it).
- The hub's URL paths live in the typed client (clerk_agent/link/client.py) only.
- Case states are never spelled as strings: the agent compares with service.wire.cases (CaseState, LIVE_STATES,
  WAITING_STATES), so a renamed state breaks the type checker instead of silently never matching.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from service.wire.cases import CaseState

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "clerk_agent"
CLIENT = AGENT / "link" / "client.py"

# String literals that spell a state name but mean something else, by file (relative to clerk_agent/).
NOT_CASE_STATES = {
    ("rtc/peer.py", "closed"),  # the WebRTC peer connection's own state
    ("ui/server.py", "approved"),  # the applicant's answer on the photo ({"approved": true})
    ("ui/views.py", "mailed"),  # the clerk view's flag: the procedure's card is mailed
}


def _sources() -> Iterator[Path]:
    yield from sorted(AGENT.rglob("*.py"))


def _strings(tree: ast.AST) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def _flow_imports(path: Path) -> set[str]:
    """The clerk_agent.flows modules `path` imports, anywhere in it (also under TYPE_CHECKING or in a function)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return {n.removeprefix("clerk_agent.flows.") for n in names if n.startswith("clerk_agent.flows.")}


def test_the_flow_modules_import_in_one_direction() -> None:
    modules = {p.stem: p for p in (AGENT / "flows").glob("*.py") if p.stem != "__init__"}
    graph = {name: _flow_imports(path) & set(modules) for name, path in modules.items()}
    assert {"counter", "cardsteps", "capture"} <= set(graph)  # the guard reads the real package

    def circle_from(start: str, seen: tuple[str, ...]) -> tuple[str, ...] | None:
        for nxt in sorted(graph[start]):
            if nxt in seen:
                return (*seen[seen.index(nxt) :], nxt)
            if found := circle_from(nxt, (*seen, nxt)):
                return found
        return None

    for name in sorted(graph):
        circle = circle_from(name, (name,))
        assert circle is None, "import circle: " + " → ".join(circle or ())


def test_hub_paths_are_spelled_only_in_the_client() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _sources()
        if path != CLIENT
        for node in _strings(ast.parse(path.read_text(encoding="utf-8")))
        if "/api/v1" in str(node.value)
    ]
    assert not found, f"hub paths outside clerk_agent/link/client.py: {found}"
    assert "/api/v1" in CLIENT.read_text(encoding="utf-8")


def test_no_case_state_is_spelled_as_a_string() -> None:
    states = {s.value for s in CaseState}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for path in _sources()
        for node in _strings(ast.parse(path.read_text(encoding="utf-8")))
        if node.value in states and (path.relative_to(AGENT).as_posix(), node.value) not in NOT_CASE_STATES
    ]
    assert not found, f"compare with service.wire.cases.CaseState instead: {found}"
