"""Small-count suppression of the national view (docs/reports.md §Suppression), pure.

Primary: an activity count from 1 to SUPPRESS_BELOW - 1 is withheld. Secondary: within a group of rows that add
up to a published total (the prefectures of the country, the municipalities of one prefecture), a figure withheld
in exactly one row could be recovered by subtraction, so the smallest other non-zero count of that figure in the
group is withheld too.
"""

from __future__ import annotations

from collections import defaultdict

from service.wire.reports import NATIONAL_FIGURES, SUPPRESS_BELOW, Figures, SuppressedFigures


def _small(value: int) -> bool:
    return 0 < value < SUPPRESS_BELOW


def suppressed_total(figures: Figures) -> SuppressedFigures:
    """A single row (the national total): primary suppression only."""
    values = figures.model_dump()
    hidden = [name for name in NATIONAL_FIGURES if _small(values[name])]
    return SuppressedFigures(
        values={name: None if name in hidden else values[name] for name in NATIONAL_FIGURES},
        suppressed=hidden,
    )


def suppressed_table(rows: dict[str, Figures], *, groups: dict[str, str]) -> dict[str, SuppressedFigures]:
    """Each row's figures with primary and secondary suppression applied within its group."""
    values = {key: figures.model_dump() for key, figures in rows.items()}
    hidden: dict[str, set[str]] = {key: set() for key in rows}
    members: dict[str, list[str]] = defaultdict(list)
    for key in rows:
        members[groups[key]].append(key)
    for name in NATIONAL_FIGURES:
        for key in rows:
            if _small(values[key][name]):
                hidden[key].add(name)
        for keys in members.values():
            withheld = [k for k in keys if name in hidden[k]]
            if len(withheld) != 1:
                continue
            others = sorted(
                (values[k][name], k) for k in keys if name not in hidden[k] and values[k][name] > 0
            )
            if others:
                hidden[others[0][1]].add(name)
    return {
        key: SuppressedFigures(
            values={name: None if name in hidden[key] else values[key][name] for name in NATIONAL_FIGURES},
            suppressed=[name for name in NATIONAL_FIGURES if name in hidden[key]],
        )
        for key in rows
    }
