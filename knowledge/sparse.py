"""BM25 as sparse vectors: the keyword side of hybrid retrieval.

Documents get BM25's saturated term frequency, ``tf·(k1+1) / (tf + k1·(1−b+b·dl/avgdl))``;
queries get 1 per distinct term; the vector store multiplies by the inverse document
frequency it keeps itself (Qdrant's ``IDF`` modifier), so the dot product is the BM25 score
and the statistics stay right as documents come and go. Tokens come from rjieba's search
mode (words and their sub-words) and map to ids by a stable 32-bit hash: no vocabulary to
keep in step between processes.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass

import rjieba

# Function words that carry no meaning for retrieval (kept short on purpose: 不, 无, 未 stay).
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "等",
        "在",
        "是",
        "为",
        "对",
        "由",
        "其",
        "之",
        "以",
        "于",
        "把",
        "被",
        "将",
        "并",
        "而",
        "且",
        "所",
        "中",
        "上",
        "下",
        "个",
        "该",
        "此",
        "这",
        "那",
        "也",
        "都",
        "就",
        "我",
        "你",
        "他",
        "她",
        "我们",
        "你们",
        "他们",
        "吗",
        "呢",
        "吧",
        "啊",
        "怎么",
        "什么",
        "如何",
        "哪些",
        "哪里",
        "是否",
        "可以",
        "能",
        "能不能",
        "需要",
        "请问",
    ]
)
_WORD = re.compile(r"[\w\u4e00-\u9fff]")


@dataclass(frozen=True)
class SparseVector:
    """Hashed term ids and their weights (ids sorted, unique)."""

    indices: list[int]
    values: list[float]


def tokens(text: str) -> list[str]:
    """Search tokens of ``text``: rjieba search mode, lower-cased, without punctuation and stopwords."""
    return [
        t
        for t in (w.strip().lower() for w in rjieba.cut_for_search(text))
        if t and _WORD.search(t) and t not in STOPWORDS
    ]


def term_id(token: str) -> int:
    """A stable 31-bit id for a token (crc32; collisions are rare and harmless to ranking)."""
    return zlib.crc32(token.encode("utf-8")) & 0x7FFFFFFF


class BM25Encoder:
    """Turns text into BM25 sparse vectors (see the module docstring)."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, avgdl: float = 90.0) -> None:
        self.k1, self.b, self.avgdl = k1, b, avgdl

    def encode_document(self, text: str) -> SparseVector:
        """Saturated term frequencies of a passage."""
        terms = tokens(text)
        if not terms:
            return SparseVector([], [])
        norm = self.k1 * (1 - self.b + self.b * len(terms) / self.avgdl)
        counts: Counter[int] = Counter(term_id(t) for t in terms)
        ids = sorted(counts)
        return SparseVector(ids, [counts[i] * (self.k1 + 1) / (counts[i] + norm) for i in ids])

    def encode_query(self, text: str) -> SparseVector:
        """One per distinct query term."""
        ids = sorted({term_id(t) for t in tokens(text)})
        return SparseVector(ids, [1.0] * len(ids))
