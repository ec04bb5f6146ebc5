"""``cityagent bench duplicates``: precision and recall of duplicate proposals on labelled pairs.

Each pair is two reports (text, address, minutes since the first); a proposal is the
second report finding the first among its recent orders. Beside it, the plain check the
product had before (the same community, street or literal address, and character pairs
overlapping by half), given the address column too, on the same pairs.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tools.dispatch.duplicates import RecentOrder, find_duplicates
from tools.dispatch.location import Gazetteer, Location, extract_location, strip_places

T0 = datetime(2026, 1, 5, 9, 0)
SUITE_WINDOW = timedelta(minutes=4320)  # the suite's window: three days


@dataclass(frozen=True)
class Pair:
    """One labelled pair."""

    id: str
    a: dict[str, Any]
    b: dict[str, Any]
    duplicate: bool
    note: str


def load_pairs(path: Path) -> list[Pair]:
    """The pairs of a JSONL suite; ``ValueError`` with the line of a malformed one."""
    pairs = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            label = row["label"]
            if label not in ("duplicate", "distinct"):
                raise ValueError(f"label {label!r}")
            for side in ("a", "b"):
                if not isinstance(row[side].get("text"), str):
                    raise ValueError(f"{side}.text missing")
            pairs.append(
                Pair(
                    str(row.get("id", line_no)),
                    row["a"],
                    row["b"],
                    label == "duplicate",
                    str(row.get("note", "")),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path} line {line_no}: {exc}") from exc
    if not pairs:
        raise ValueError(f"{path}: no pairs")
    return pairs


def _at(side: dict[str, Any]) -> datetime:
    return T0 + timedelta(minutes=float(side.get("minutes", 0)))


def proposed(pair: Pair, gazetteer: Gazetteer | None, window: timedelta) -> bool:
    """Whether the product proposes ``b`` as a duplicate of ``a``."""
    first = RecentOrder("a", pair.a["text"], _at(pair.a), pair.a.get("address", ""))
    found = find_duplicates(
        pair.b["text"],
        _at(pair.b),
        [first],
        address=pair.b.get("address", ""),
        gazetteer=gazetteer,
        window=window,
    )
    return bool(found)


def _plain_pairs(text: str, gazetteer: Gazetteer | None) -> set[str]:
    chars = [c for c in strip_places(text, gazetteer) if "\u4e00" <= c <= "\u9fff" or c.isalnum()]
    return {a + b for a, b in itertools.pairwise(chars)}


def _plain_place(a: Location, b: Location) -> bool:
    if a.address and b.address:
        return a.address == b.address
    return any(getattr(a, p) and getattr(a, p) == getattr(b, p) for p in ("community", "street"))


def baseline_proposed(pair: Pair, gazetteer: Gazetteer | None, window: timedelta) -> bool:
    """The check before this one: literal places, character pairs overlapping by half."""
    if abs(_at(pair.b) - _at(pair.a)) > window:
        return False
    ta = f"{pair.a.get('address', '')} {pair.a['text']}"
    tb = f"{pair.b.get('address', '')} {pair.b['text']}"
    if not _plain_place(extract_location(ta, gazetteer), extract_location(tb, gazetteer)):
        return False
    pa, pb = _plain_pairs(ta, gazetteer), _plain_pairs(tb, gazetteer)
    return bool(pa and pb) and len(pa & pb) / min(len(pa), len(pb)) >= 0.5


def _kind(pair: Pair) -> str:
    """The kind of pair from its note: the words before a parenthesis or comma ("same matter", …)."""
    head = re.split(r"[(（,，:：;；]", pair.note, maxsplit=1)[0].strip()
    return head or ("duplicate" if pair.duplicate else "distinct")


def _figures(truth: list[bool], guess: list[bool]) -> dict[str, Any]:
    tp = sum(t and g for t, g in zip(truth, guess, strict=True))
    fp = sum(g and not t for t, g in zip(truth, guess, strict=True))
    fn = sum(t and not g for t, g in zip(truth, guess, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "proposed": tp + fp,
        "true_positives": tp,
    }


def run_duplicates_bench(
    suite: Path, gazetteer: Gazetteer | None, window: timedelta = SUITE_WINDOW
) -> dict[str, Any]:
    """P/R/F1 of the product's proposals and of the plain check; accuracy per kind of pair."""
    pairs = load_pairs(suite)
    truth = [p.duplicate for p in pairs]
    ours = [proposed(p, gazetteer, window) for p in pairs]
    plain = [baseline_proposed(p, gazetteer, window) for p in pairs]
    kinds: dict[str, Counter[str]] = {}
    for pair, guess, base in zip(pairs, ours, plain, strict=True):
        kind = _kind(pair)
        counts = kinds.setdefault(kind, Counter())
        counts["pairs"] += 1
        counts["ours_right"] += guess == pair.duplicate
        counts["baseline_right"] += base == pair.duplicate
    return {
        "suite": str(suite),
        "pairs": len(pairs),
        "duplicates": sum(truth),
        "window_minutes": window.total_seconds() / 60,
        "gazetteer": gazetteer is not None,
        "proposals": _figures(truth, ours),
        "baseline_plain_overlap": _figures(truth, plain),
        "by_kind": {k: dict(v) for k, v in sorted(kinds.items())},
        "wrong": [p.id for p, g in zip(pairs, ours, strict=True) if g != p.duplicate],
    }
