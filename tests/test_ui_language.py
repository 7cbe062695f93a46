"""Every word of the UIs goes through their language switch: no Japanese hard-coded outside the strings tables.

The officer console keeps its words in js/strings.js (ja and en side by side) and names them by key (t(), data-i18n,
data-i18n-attr); the counter's screens (clerk, applicant, kiosk, booth, station) write each string as a ja/en pair
(tr('ja', 'en'), ['key', 'ja', 'en'], {ja, en}) or as data-ja/data-en in the HTML. A Japanese literal anywhere
else shows in English mode (the console's 「カメラを止める」 did), so this scans the JS and HTML statically:

- console JS: no kana or kanji outside strings.js and the generated contract.js;
- counter JS: a Japanese literal is only the ja half of a pair, i.e. tr()'s first argument, a `ja:` value, or a
  literal followed by its English literal (which must hold no Japanese);
- HTML: Japanese text only in an element that names its words (data-i18n, or data-ja with data-en); a Japanese
  title, aria-label, alt or placeholder only where the switch rewrites it (data-i18n-attr, data-ja-label).

Comments are not UI and are left out. The few allowed literals are listed in ALLOWED, each with its reason.
The Chromium walks check the rendered screens in English mode as well (tests/_seen.py assert_clean).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = ROOT / "municipal_console" / "static"
COUNTER = ROOT / "clerk_agent" / "ui" / "static"
# Kana and kanji; punctuation alone (、。「」・〜　) is no word of either language.
JAPANESE = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\u30fc\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
# Three English words in a row: a sentence a Japanese screen must not show (as tests/_seen.py reads the screen).
ENGLISH = re.compile(r"[A-Za-z][a-z']*(?:[ ,]+[A-Za-z][a-z']*){2,}")
# The strings tables themselves (the console's dictionary; the contract generated from service/wire).
TABLES = {"strings.js", "contract.js"}

# (file, literal): why this Japanese literal is right as it is.
ALLOWED: dict[tuple[str, str], str] = {
    # Japanese date order (2026年12月2日 14:05), built only in the ja branch; English uses Intl en-GB.
    ("format.js", "${}年${}月${}日 ${}:${}"): "ja branch of a date format",
    ("reports.js", "${}年${}月"): "ja branch of a month name",
    ("reports.js", "${}月${}日（${}）"): "ja branch of a day name",
    # The language switch names the other language in that language (it carries lang="ja" in English mode).
    ("common.js", "日本語"): "the switch back to Japanese",
}

Literal = tuple[
    int, int, str
]  # where it starts and ends in the source, and its text (a template's ${} emptied)


def js_literals(source: str) -> list[Literal]:
    """The string and template literals of a JS source in order, comments skipped, those inside ${} included."""
    found: list[Literal] = []
    _scan(source, 0, found, nested=False)
    return sorted(found)


def _scan(source: str, i: int, found: list[Literal], nested: bool) -> int:
    """Collect literals from `i`; inside a template's ${} (`nested`), stop after its closing brace."""
    depth = 0
    while i < len(source):
        c = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            if i < 0:
                return len(source)
        elif source.startswith("/*", i):
            i = source.find("*/", i + 2) + 1
        elif c in "'\"":
            j = i + 1
            while j < len(source) and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            found.append((i, j + 1, source[i + 1 : j]))
            i = j
        elif c == "`":
            i = _template(source, i, found) - 1
        elif c == "/" and re.search(r"(?:^|[(,=:\[!&|?{};]|\breturn)\s*$", source[max(0, i - 12) : i]):
            i = _regex_end(source, i) - 1  # a regular expression: its quotes are no string
        elif nested and c == "{":
            depth += 1
        elif nested and c == "}":
            if depth == 0:
                return i + 1
            depth -= 1
        i += 1
    return i


def _regex_end(source: str, i: int) -> int:
    """Just past the regular expression literal whose opening slash is at `i` (a class [...] may hold a slash)."""
    i += 1
    in_class = False
    while i < len(source) and source[i] != "\n":
        c = source[i]
        if c == "\\":
            i += 1
        elif c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            return i + 1
        i += 1
    return i


def _template(source: str, i: int, found: list[Literal]) -> int:
    """A template literal from its backquote at `i`: its own text, and the literals of its ${} parts."""
    start, parts = i, []
    i += 1
    while i < len(source) and source[i] != "`":
        if source[i] == "\\":
            parts.append(source[i : i + 2])
            i += 2
        elif source.startswith("${", i):
            parts.append("${}")
            i = _scan(source, i + 2, found, nested=True)
        else:
            parts.append(source[i])
            i += 1
    found.append((start, i + 1, "".join(parts)))
    return i + 1


def _tr_halves(source: str, literals: list[Literal]) -> tuple[set[int], set[int]]:
    """The starts of the literals in the first (Japanese) and the second (English) argument of every tr() call."""
    spans = {start: end for start, end, _ in literals}
    japanese: set[int] = set()
    english: set[int] = set()
    for call in re.finditer(r"\btr\(", source):
        i, depth, comma = call.end(), 1, -1
        while i < len(source) and depth:
            if i in spans:
                i = spans[i]
                continue
            c = source[i]
            depth += c in "([{"
            depth -= c in ")]}"
            if c == "," and depth == 1 and comma < 0:
                comma = i
            i += 1
        for start, _, _ in literals:
            if call.end() <= start < (comma if comma >= 0 else i):
                japanese.add(start)
            elif comma >= 0 and comma < start < i:
                english.add(start)
    return japanese, english


def _js_offences(path: Path, pairs_allowed: bool) -> list[str]:
    """Japanese literals of one JS file that no language switch reaches."""
    source = path.read_text(encoding="utf-8")
    literals = js_literals(source)
    ja_halves, en_halves = _tr_halves(source, literals) if pairs_allowed else (set(), set())
    offences: list[str] = []
    for index, (start, _, text) in enumerate(literals):
        if not JAPANESE.search(text) or (path.name, text) in ALLOWED:
            continue
        if (
            pairs_allowed
            and start not in en_halves
            and (start in ja_halves or _pairs(source, literals, index))
        ):
            continue
        line = source.count("\n", 0, start) + 1
        offences.append(f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}")
    return offences


def _pairs(source: str, literals: list[Literal], index: int) -> bool:
    """The literal at `index` is a `ja:` value, or is followed by its English literal: ['ja', 'en'], f(k, 'ja', 'en')."""
    start, end, _ = literals[index]
    if re.search(r"\bja:\s*$", source[max(0, start - 20) : start]):
        return True
    if index + 1 < len(literals):
        following, _, english = literals[index + 1]
        return bool(re.fullmatch(r"\s*,\s*", source[end:following])) and not JAPANESE.search(english)
    return False


class _HtmlScan(HTMLParser):
    """Japanese (or English) text, Japanese attribute values, in elements that do not name their words for the switch."""

    ATTRS = ("title", "aria-label", "alt", "placeholder")
    VOID: ClassVar[frozenset[str]] = frozenset(
        {"meta", "link", "input", "img", "br", "hr", "source", "track", "wbr", "area", "base", "col", "embed"}
    )

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.offences: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        rewritten = " ".join(
            part.split(":")[0].strip() for part in (named.get("data-i18n-attr") or "").split(";") if part
        ).split()
        if "data-ja-label" in named:
            rewritten.append("aria-label")
        for attr in self.ATTRS:
            value = named.get(attr) or ""
            if JAPANESE.search(value) and attr not in rewritten:
                self.offences.append(f"{self.name}:{self.getpos()[0]}: <{tag} {attr}={value!r}>")
        if tag not in self.VOID:
            self.stack.append((tag, named))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not JAPANESE.search(data) and not ENGLISH.search(data):
            return
        tag, named = self.stack[-1] if self.stack else ("", {})
        if "data-i18n" in named or ("data-ja" in named and "data-en" in named):
            return
        self.offences.append(f"{self.name}:{self.getpos()[0]}: <{tag}> {data.strip()[:60]!r}")


def _html_offences(path: Path) -> list[str]:
    scan = _HtmlScan(str(path.relative_to(ROOT)))
    scan.feed(re.sub(r"<!--.*?-->", "", path.read_text(encoding="utf-8"), flags=re.S))
    return scan.offences


def _english_offences(path: Path) -> list[str]:
    """English sentences of one JS file that are not the English half of a pair (nor a list of class names)."""
    source = path.read_text(encoding="utf-8")
    literals = js_literals(source)
    _, en_halves = _tr_halves(source, literals)
    offences: list[str] = []
    for index, (start, _, text) in enumerate(literals):
        if not ENGLISH.search(text) or start in en_halves:
            continue
        before = source[max(0, start - 24) : start]
        if re.search(r"\b(?:en|class|className):\s*$|\b(?:Error|console\.\w+)\(\s*$", before):
            continue  # an English value, CSS classes, or a message for developers (never on screen)
        previous = literals[index - 1] if index else None
        if (
            previous
            and JAPANESE.search(previous[2])
            and re.fullmatch(r"\s*,\s*", source[previous[1] : start])
        ):
            continue  # the English half of ['key', 'ja', 'en']
        line = source.count("\n", 0, start) + 1
        offences.append(f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}")
    return offences


def test_the_console_has_no_japanese_outside_its_strings_table() -> None:
    offences = [
        offence
        for path in sorted((CONSOLE / "js").glob("*.js"))
        if path.name not in TABLES
        for offence in _js_offences(path, pairs_allowed=False)
    ]
    assert not offences, "Japanese outside js/strings.js (add a key in both languages):\n" + "\n".join(
        offences
    )


def test_the_console_english_table_has_no_japanese() -> None:
    source = (CONSOLE / "js" / "strings.js").read_text(encoding="utf-8")
    english = source[source.index("\n  en: {") :]
    # lang_toggle is the switch back, deliberately in Japanese (the toggle carries lang="ja" in English mode).
    words = [
        line.strip()
        for line in english.splitlines()
        if JAPANESE.search(line.split("//")[0]) and not re.match(r"\s*lang_toggle(?:_label)?:", line)
    ]
    assert not words, "Japanese in the English table:\n" + "\n".join(words)


def test_the_counter_screens_write_every_japanese_string_as_a_pair() -> None:
    offences = [
        offence
        for path in sorted(COUNTER.glob("*.js"))
        if path.name not in TABLES
        for offence in _js_offences(path, pairs_allowed=True)
    ]
    assert not offences, "Japanese without its English pair:\n" + "\n".join(offences)


def test_no_english_sentence_is_hard_coded_outside_a_pair() -> None:
    """The other direction: an English sentence in the JS shows on the Japanese screen unless it is a pair's half."""
    offences = [
        offence
        for path in [*sorted((CONSOLE / "js").glob("*.js")), *sorted(COUNTER.glob("*.js"))]
        if path.name not in TABLES
        for offence in _english_offences(path)
    ]
    assert not offences, "English outside the strings tables and pairs:\n" + "\n".join(offences)


def test_html_names_every_japanese_word_for_the_switch() -> None:
    offences = [
        offence
        for path in [CONSOLE / "index.html", *sorted(COUNTER.glob("*.html"))]
        for offence in _html_offences(path)
    ]
    assert not offences, "Japanese the language switch cannot reach:\n" + "\n".join(offences)


def test_the_scanner_finds_what_it_is_for() -> None:
    """The scan itself: a bare Japanese literal is found, a pair and a comment are not."""
    source = "// 注釈\nconst a = 'カメラ';\nconst b = tr('はい', 'Yes');\nconst c = ['いいえ', 'No'];\nconst d = ['x', '否'];\n"
    path = ROOT / "var" / "scan-probe.js"
    path.parent.mkdir(exist_ok=True)
    source += "const r = /'\\//.test(z);\n"  # a regular expression's quote opens no string
    path.write_text(
        source + "const e = tr(x ? `${n}件` : 'なし', 'none ${y}');\nconst f = tr('はい', '否');\n"
    )
    path.write_text(
        path.read_text()
        + "el('p', { class: 'big bad note' }, 'Ask the clerk please', tr('あ', 'Fine as is'));\n"
    )
    try:
        bare = [offence.split(": ", 1)[1] for offence in _js_offences(path, pairs_allowed=True)]
        english = [offence.split(": ", 1)[1] for offence in _english_offences(path)]
    finally:
        path.unlink()
    assert bare == ["'カメラ'", "'否'", "'否'"]
    assert english == ["'Ask the clerk please'"]
    scan = _HtmlScan("t.html")
    scan.feed(
        '<p data-i18n="k">受付</p><p>受付</p><video aria-label="映像"></video><b data-ja="は" data-en="y">は</b>'
    )
    assert len(scan.offences) == 2
