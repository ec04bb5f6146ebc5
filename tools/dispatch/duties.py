"""The responsibility list (权责清单): which department is responsible for what, clause by clause.

Read from the city's own document, one article per unit, in the form
``第十条 市城市管理局：市容环境卫生、道路清扫保洁、……``. A suggestion's reason names the duty
of the department that is closest in meaning to the order (embeddings: "下水道堵了" is
"排水管道和窨井" though they share almost no characters), with the clause it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_ARTICLE = re.compile(r"^(第[一二三四五六七八九十百零〇\d]+条)\s+(\S+?)：(.+)$", re.MULTILINE)
_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)
_SPLIT = re.compile(r"[、，,；;。]")

Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class DutyMatch:
    """The duty of a department that matches an order, and where it is written."""

    duty: str
    citation: str
    similarity: float


@dataclass(frozen=True)
class DutyEntry:
    """One department's duties and the clause that lists them."""

    department: str
    article: str
    duties: tuple[str, ...]


class DutyTable:
    """Duties by department, embedded once."""

    def __init__(self, title: str, entries: list[DutyEntry]) -> None:
        self.title = title
        self._entries = {e.department: e for e in entries}
        self._vectors: dict[str, Any] = {}

    @classmethod
    def from_document(cls, path: Path) -> DutyTable:
        """Parse a responsibility-list document; ``ValueError`` when it lists no department."""
        text = path.read_text(encoding="utf-8")
        title_match = _TITLE.search(text)
        title = title_match.group(1).strip() if title_match else path.stem
        entries = [
            DutyEntry(m.group(2), m.group(1), tuple(d.strip() for d in _SPLIT.split(m.group(3)) if d.strip()))
            for m in _ARTICLE.finditer(text)
        ]
        if not entries:
            raise ValueError(f"{path}: no '第X条 部门：职责、…' lines found")
        return cls(title, entries)

    @property
    def departments(self) -> list[str]:
        """Every department listed."""
        return list(self._entries)

    def duties_of(self, department: str) -> str:
        """The department's duties as written ("" when it is not listed)."""
        entry = self._entries.get(department)
        return "、".join(entry.duties) if entry else ""

    def embed_duties(self, embed: Embed) -> None:
        """Embed every duty phrase (once, when the model is trained)."""
        for department, entry in self._entries.items():
            self._vectors[department] = embed(list(entry.duties))

    def best_match(self, department: str, order_vector: npt.NDArray[np.float32] | None) -> DutyMatch | None:
        """The duty of ``department`` closest to the order (None when not listed or not embedded)."""
        vectors = self._vectors.get(department)
        if order_vector is None or vectors is None or department not in self._entries:
            return None
        scores = vectors @ order_vector
        best = int(np.argmax(scores))
        entry = self._entries[department]
        return DutyMatch(
            entry.duties[best], f"〔{self.title} {entry.article}〕", round(float(scores[best]), 3)
        )
