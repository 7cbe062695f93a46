"""What a person sees, for the Chromium tests: no error on screen, no raw code, the page's language, in reach.

`assert_clean` fails on a visible error element (role=alert, .error, .banner, .notice, #code-b-error …), on a raw
code (`invalid_transition`, `review_closed`, an unlabelled `case_…`; a number labelled on purpose sits in a
`.ref` element), in Japanese mode on an English sentence that is not
marked as the deliberate English sub-label (`lang="en"`, as the console marks them), and in English mode on
Japanese (kana or kanji) in the text or the title, aria-label, alt or placeholder of what is shown. Data is no UI:
an element marked `data-value` (a name, an address, a municipality or post office as the hub has it) and a
deliberate Japanese word marked `lang="ja"` (the 日本語 switch) are left out. `assert_in_viewport` fails
unless an element the person must act on is wholly inside the window without scrolling; `assert_in_sight` also
fails when something else (a sticky bar) lies over it.
`enter_new_pins` chooses the new card's PINs as the applicant does: on the on-screen keypad, each PIN twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from playwright.async_api import Page

ERROR_SELECTORS = ("[role=alert]", "[role=alertdialog]", ".error", ".banner", ".notice")
RAW_CODE = re.compile(r"\b[a-z][a-z0-9]*(?:_[A-Za-z0-9]+)+\b")
ENGLISH_SENTENCE = re.compile(r"[A-Za-z][a-z']*(?:[ ,]+[A-Za-z][a-z']*){2,}")
# Kana and kanji: what an English-mode screen must not show outside data. Punctuation (、。「」・〜) is no word.
JAPANESE = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\u30fc\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")

# The visible text of the page, one entry per text node, with whether it sits inside a lang="en" element.
_VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !parent || parent.closest('script, style, template')) continue;
    if (!parent.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    if (parent.closest('.ref')) continue; // a labelled reference number shown on purpose (受付番号)
    const marked = parent.closest('[lang]');
    out.push([text, Boolean(marked && marked.lang.startsWith('en'))]);
  }
  return out;
}"""

# In English mode: the visible text and the visible elements' words for assistive technology, leaving out data
# (`data-value`) and a word deliberately in Japanese (`lang="ja"`), each with a short path saying where it sits.
_ENGLISH_MODE_TEXT = """() => {
  const out = [];
  const where = (el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`;
  const skipped = (el) => el.closest('script, style, template, [data-value], .ref')
    || (el.closest('[lang]') && el.closest('[lang]').lang.startsWith('ja'));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !parent || skipped(parent)) continue;
    if (!parent.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    out.push(`${where(parent)}: ${text}`);
  }
  for (const el of document.body.querySelectorAll('[title], [aria-label], [alt], [placeholder]')) {
    if (skipped(el) || !el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    for (const attr of ['title', 'aria-label', 'alt', 'placeholder']) {
      const value = el.getAttribute(attr);
      if (value) out.push(`${where(el)}[${attr}]: ${value}`);
    }
  }
  out.push(`title: ${document.title}`);
  return out;
}"""


async def visible_errors(page: Page) -> list[str]:
    """The text of every visible error element on the page."""
    found: list[str] = []
    for selector in ERROR_SELECTORS:
        for element in await page.locator(selector).all():
            if await element.is_visible():
                found.append(f"{selector}: {(await element.inner_text()).strip()}")
    return found


async def assert_clean(page: Page, lang: str = "ja") -> None:
    """After a step that worked: no visible error, no raw code, and no words of the other language."""
    errors = await visible_errors(page)
    assert not errors, f"{page.url}: error on screen: {errors}"
    texts: list[list[object]] = await page.evaluate(_VISIBLE_TEXT)
    raw = [str(t) for t, _ in texts if RAW_CODE.search(str(t))]
    assert not raw, f"{page.url}: raw codes on screen: {raw}"
    if lang == "ja":
        english = [str(t) for t, marked in texts if not marked and ENGLISH_SENTENCE.search(str(t))]
        assert not english, f"{page.url}: English in Japanese mode: {english}"
    else:
        await assert_no_japanese(page)


async def assert_no_japanese(page: Page) -> None:
    """In English mode: no kana or kanji in what the page shows or names, data (`data-value`) left out."""
    shown: list[str] = await page.evaluate(_ENGLISH_MODE_TEXT)
    japanese = [text for text in shown if JAPANESE.search(text)]
    assert not japanese, f"{page.url}: Japanese in English mode: {japanese}"


async def assert_in_viewport(page: Page, selector: str) -> None:
    """The element is visible and wholly inside the window as it is now, without scrolling."""
    element = page.locator(selector)
    assert await element.is_visible(), f"{selector} is not visible"
    box = await element.bounding_box()
    size = page.viewport_size
    assert box is not None, selector
    assert size is not None, selector
    inside = (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )
    assert inside, f"{selector} at {box} is not wholly inside the {size} window"


_COVERED_CORNERS = """(element) => {
  const box = element.getBoundingClientRect();
  const inset = 3; // the middles of the edges, not the corners: a rounded corner is the parent's
  const [x, y] = [(box.left + box.right) / 2, (box.top + box.bottom) / 2];
  const points = [[x, box.top + inset], [x, box.bottom - inset], [box.left + inset, y], [box.right - inset, y], [x, y]];
  return points.filter(([x, y]) => {
    const hit = document.elementFromPoint(x, y);
    return !hit || !(hit === element || element.contains(hit));
  }).map(([x, y]) => `${Math.round(x)},${Math.round(y)}: ${document.elementFromPoint(x, y)?.outerHTML.slice(0, 80)}`);
}"""


async def assert_in_sight(page: Page, selector: str) -> None:
    """`assert_in_viewport`, and nothing lies over it (a sticky bar, a banner): its edges and centre are its own."""
    await assert_in_viewport(page, selector)
    covered = await page.locator(selector).evaluate(_COVERED_CORNERS)
    assert not covered, f"{selector} is covered at {covered}"


async def enter_new_pins(page: Page, chosen: Sequence[str], wait_ms: float = 30_000) -> None:
    """Choose the new card's PINs on the applicant's keypad, one PIN at a time, each typed and then confirmed.

    `chosen` is in screen order: 署名用, 利用者証明用, 住民基本台帳用, 券面事項入力補助用.
    """
    await page.wait_for_selector("#pin-choice[data-field]", timeout=wait_ms)
    for i, value in enumerate(chosen):
        form = page.locator("#pin-choice")
        key = await form.get_attribute("data-field")
        await assert_clean(page)
        for entry in (f"#pc-{key}", f"#pc-{key}-again"):
            await page.click(entry)
            if await page.input_value(entry):  # typed before: start the box afresh, as a person would
                await page.click("#pc-clear")
            for char in value:
                await assert_in_viewport(page, f"#pin-choice button[data-key='{char}']")
                await page.click(f"#pin-choice button[data-key='{char}']")
        last = i == len(chosen) - 1
        button = "#pin-choice-send" if last else "#pc-next"
        await assert_in_viewport(page, button)
        await page.click(button)
        if not last:
            await page.wait_for_selector(
                f"#pin-choice[data-field]:not([data-field='{key}'])", timeout=wait_ms
            )
