"""一件事: whether a new order is the same matter, at the same place, as a recent one.

Hotline rules 第十条: reports of the same matter at the same place within 7 days are merged
and handled as one. This module only *proposes*: a caseworker confirms the merge. Two
orders are candidates when they are at the same place (the same address, or the same
community or street when neither gives an address) and say the same thing: the character
pairs of their texts, places removed, overlap by at least ``threshold`` of the shorter one
(a longer retelling of the same matter still matches).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tools.dispatch.location import Gazetteer, Location, extract_location, strip_places

WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class RecentOrder:
    """What the check needs of an existing order."""

    ticket: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class DuplicateCandidate:
    """A recent order that may be the same 一件事, and why."""

    ticket: str
    similarity: float
    place: str
    hours_apart: float


def _pairs(text: str, gazetteer: Gazetteer | None) -> set[str]:
    chars = [c for c in strip_places(text, gazetteer) if "\u4e00" <= c <= "\u9fff" or c.isalnum()]
    return {a + b for a, b in itertools.pairwise(chars)}


def same_place(a: Location, b: Location) -> str:
    """The place two locations share ("" when they do not, or say too little)."""
    if a.address and b.address:
        return a.address if a.address == b.address else ""
    for part in ("community", "street"):
        left, right = getattr(a, part), getattr(b, part)
        if left and left == right:
            return str(left)
    return ""


def find_duplicates(
    text: str,
    created_at: datetime,
    recent: Sequence[RecentOrder],
    *,
    gazetteer: Gazetteer | None = None,
    threshold: float = 0.5,
    window: timedelta = WINDOW,
) -> list[DuplicateCandidate]:
    """Recent orders that look like the same matter at the same place, most similar first."""
    where = extract_location(text, gazetteer)
    what = _pairs(text, gazetteer)
    found = []
    for order in recent:
        apart = abs(created_at - order.created_at)
        if apart > window:
            continue
        place = same_place(where, extract_location(order.text, gazetteer))
        other = _pairs(order.text, gazetteer)
        if not place or not what or not other:
            continue
        similarity = len(what & other) / min(len(what), len(other))
        if similarity >= threshold:
            found.append(
                DuplicateCandidate(
                    order.ticket, round(similarity, 3), place, round(apart.total_seconds() / 3600, 1)
                )
            )
    return sorted(found, key=lambda c: -c.similarity)
