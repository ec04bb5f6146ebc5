"""Which documents a newer one replaces.

Two signals, both conservative:

* a document says so — ``《某市城市绿化管理办法》（某政规〔2020〕6号）同时废止`` names
  the old one by title or 文号;
* a later version of the same title in the same region (the laws corpus keeps every dated
  version, e.g. 道路运输条例 of 2019, 2022 and 2023): the latest effective date is current.

A superseded document stays in the index (it can be asked for) but is excluded by default.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from knowledge.documents import DocumentMeta

_REPEAL = re.compile(r"《([^》]{2,80})》(?:[（(]([^）)]{3,40})[）)])?[^。；]{0,20}?(?:同时)?废止")
_VERSION_SUFFIX = re.compile(r"[（(]\d{4}年?(?:修订|修正|修改)?(?:版)?[）)]$")


@dataclass(frozen=True)
class Supersession:
    """``old`` is replaced by ``new`` (document ids), for ``reason``."""

    old: str
    new: str
    reason: str


def base_title(title: str) -> str:
    """The title without a version suffix such as ``（2025年修订）``."""
    return _VERSION_SUFFIX.sub("", title.strip()).strip()


def repealed_references(text: str) -> list[tuple[str, str]]:
    """(title, 文号) pairs a text declares repealed."""
    return [(m.group(1).strip(), (m.group(2) or "").strip()) for m in _REPEAL.finditer(text)]


def find_supersessions(docs: dict[str, DocumentMeta], texts: dict[str, str]) -> list[Supersession]:
    """Supersessions among ``docs`` (id -> metadata); ``texts`` holds the new documents' texts."""
    found: dict[str, Supersession] = {}
    by_title: dict[str, list[str]] = defaultdict(list)
    by_number: dict[str, list[str]] = defaultdict(list)
    for doc_id, meta in docs.items():
        by_title[base_title(meta.title)].append(doc_id)
        if meta.doc_number:
            by_number[meta.doc_number].append(doc_id)
    for new_id, text in texts.items():
        for title, number in repealed_references(text):
            for old_id in {*by_title.get(base_title(title), []), *by_number.get(number, [])}:
                if old_id != new_id and _older(docs[old_id], docs[new_id]):
                    found[old_id] = Supersession(old_id, new_id, f"《{docs[new_id].title}》宣布废止")
    for ids in _version_groups(docs).values():
        ordered = sorted(ids, key=lambda i: _day(docs[i]) or date.min)
        latest = _day(docs[ordered[-1]])
        for old_id in ordered[:-1]:
            day = _day(docs[old_id])
            # Only a strictly older version is replaced: files of one title and one date are parts of
            # one law (民法典's 编 are nine files titled 中华人民共和国民法典), not versions of it.
            if latest is not None and (day is None or day < latest):
                found.setdefault(
                    old_id, Supersession(old_id, ordered[-1], f"被新版本《{docs[ordered[-1]].title}》取代")
                )
    return list(found.values())


def _day(meta: DocumentMeta) -> date | None:
    return meta.effective_date or meta.publish_date


def _older(old: DocumentMeta, new: DocumentMeta) -> bool:
    old_day = old.effective_date or old.publish_date
    new_day = new.effective_date or new.publish_date
    return old_day is None or new_day is None or old_day <= new_day


def _version_groups(docs: dict[str, DocumentMeta]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for doc_id, meta in docs.items():
        groups[(base_title(meta.title), meta.region)].append(doc_id)
    return {key: ids for key, ids in groups.items() if len(ids) > 1}
