"""The repository explains itself: code cites only the documents in `docs/`, and every citation resolves.

Comments used to cite research notes kept outside the repository, by file name and section, which a reader of
the repository cannot open; they now cite `docs/domain.md §B7` and its siblings. On the tree before `docs/` existed
all three tests fail: the first lists 36 lines citing outside notes, the others find no `docs/` at all.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCE_SUFFIXES = frozenset({".py", ".js", ".html", ".css", ".sh", ".toml", ".yml", ".yaml", ".ini"})
EXTENSIONLESS_SCRIPTS = ("madoguchi", ".ci/run")
SKIPPED_DIRS = frozenset(
    {".git", ".venv", "var", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
)
THIS_FILE = Path(__file__).resolve()

# The research notes the code once cited; the in-repo `docs/domain.md` shares one of their names.
OUTSIDE_NOTE = re.compile(r"(?<![\w-])(domain|mynumber-card|webrtc|anchors|post-office-services)\.md")
OUTSIDE_PATH = re.compile(r"\.\./shared|/work/shared|shared/reference")
# `docs/card.md §1.7`, `docs/domain.md §A2.11, §B3, §B7`: a file, then one or more section ids.
CITATION = re.compile(r"docs/([\w-]+\.md)((?:(?:\s*,\s*|\s+and\s+|\s+)§[\w.]+)+)")
SECTION_ID = re.compile(r"§([\w.]*\w)")
# A domain section id (§B7, §A2.11) outside a citation: the reader cannot tell which document it means.
BARE_DOMAIN_ID = re.compile(r"§[AB]\d")


def _sources() -> list[Path]:
    found = [ROOT / name for name in EXTENSIONLESS_SCRIPTS if (ROOT / name).is_file()]
    for path in ROOT.rglob("*"):
        if path.suffix not in SOURCE_SUFFIXES or not path.is_file() or path.resolve() == THIS_FILE:
            continue
        if SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
            continue
        found.append(path)
    return sorted(found)


def _lines() -> list[tuple[str, int, str]]:
    return [
        (str(path.relative_to(ROOT)), number, line)
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
    ]


def _heading_ids(doc: Path) -> set[str]:
    """The first word of every Markdown heading (`## B7 Suspected impersonation` → `B7`)."""
    ids: set[str] = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^#{1,6}\s+§?([\w.]*\w)", line):
            ids.add(match.group(1))
    return ids


def test_sources_cite_no_document_outside_the_repository() -> None:
    """Every reference to a research note or to ../shared names a file under docs/ instead."""
    offending = [
        f"{where}:{number}: {line.strip()}"
        for where, number, line in _lines()
        if OUTSIDE_NOTE.search(line.replace("docs/domain.md", ""))
        or OUTSIDE_PATH.search(line)
        or BARE_DOMAIN_ID.search(CITATION.sub("", line))
    ]
    assert not offending, "cite docs/<file>.md §<id> instead:\n" + "\n".join(offending)


def _doc_lines() -> list[tuple[str, int, str]]:
    return [
        (f"docs/{doc.name}", number, line)
        for doc in sorted(DOCS.glob("*.md"))
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
    ]


def test_every_docs_citation_names_an_existing_section() -> None:
    """`docs/<file>.md §<id>` in code or docs: the file exists and has a heading that starts with that id."""
    citations = [
        (where, number, file, section)
        for where, number, line in [*_lines(), *_doc_lines()]
        for file, ids in CITATION.findall(line)
        for section in SECTION_ID.findall(ids)
    ]
    assert citations, "the code cites no section of docs/ at all"
    broken = []
    for where, number, file, section in citations:
        doc = DOCS / file
        if not doc.is_file():
            broken.append(f"{where}:{number}: docs/{file} does not exist")
        elif section not in _heading_ids(doc):
            broken.append(f"{where}:{number}: docs/{file} has no heading §{section}")
    assert not broken, "\n".join(broken)


def test_the_docs_cite_nothing_outside_the_repository() -> None:
    """The docs themselves are self-contained too: no path into ../shared."""
    offending = [
        f"{where}:{number}: {line.strip()}"
        for where, number, line in _doc_lines()
        if OUTSIDE_PATH.search(line)
    ]
    assert DOCS.is_dir()
    assert not offending, "\n".join(offending)


def test_the_readme_walk_through_is_what_the_demo_prints() -> None:
    """The README's first case is the demo's own text (with the demo's default ports), so the two cannot drift."""
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "deploy" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    printed = demo.walkthrough("http://127.0.0.1:8400", "http://127.0.0.1:8300/console/")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"```\n{printed}\n```" in readme, (
        "README.md's first-case block differs from deploy/demo.py walkthrough()"
    )
