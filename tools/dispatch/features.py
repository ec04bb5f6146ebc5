"""Features of a work order: character n-grams and words of title and body, the place, the operator's note.

Hotline texts are short, full of place names and colloquial Chinese; character n-grams
catch morphology without a dictionary, rjieba words carry meaning, and a title is a denser
signal than the body, so it gets features of its own (weighted by ``title_weight``). Many
units are bound to a district or a street office: the address column's characters and the
gazetteer's district, street, community and road names are features of their own; so is the
call-taker's note, which often names the unit ("请交警部门核实处理"). Which of these help is
chosen per city by cross-validation (:mod:`tools.dispatch.selection`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import rjieba
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from tools.dispatch.location import Gazetteer, extract_location

_WORD = re.compile(r"\w")
_PHRASE = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    """Collapse whitespace (exports are full of tabs and line breaks)."""
    return _SPACE.sub(" ", text or "").strip()


def words(text: str) -> list[str]:
    """Words by rjieba, punctuation dropped."""
    return [w for w in rjieba.cut(text) if w.strip() and _WORD.search(w)]


@dataclass(frozen=True)
class WordBounds:
    """Where rjieba's words of one text start and end, to tell a whole phrase from a fragment."""

    text: str
    starts: frozenset[int]
    ends: frozenset[int]

    def whole(self, phrase: str) -> bool:
        """``phrase`` occurs in the text as one or more whole words, with no punctuation in it."""
        if not _PHRASE.fullmatch(phrase):
            return False
        at = self.text.find(phrase)
        while at >= 0:
            if at in self.starts and at + len(phrase) in self.ends:
                return True
            at = self.text.find(phrase, at + 1)
        return False


def word_bounds(text: str) -> WordBounds:
    """The word boundaries of ``text`` (rjieba's default cut)."""
    starts, ends, at = set(), set(), 0
    for token in rjieba.cut(text):
        starts.add(at)
        at += len(token)
        ends.add(at)
    return WordBounds(text, frozenset(starts), frozenset(ends))


@dataclass(frozen=True)
class OrderText:
    """What the features read of one order (whitespace collapsed)."""

    title: str
    text: str
    address: str = ""
    notes: str = ""

    @classmethod
    def of(cls, title: str, text: str, address: str = "", notes: str = "") -> OrderText:
        """Cleaned."""
        return cls(clean(title), clean(text), clean(address), clean(notes))

    @property
    def full(self) -> str:
        """Title and body as one text."""
        return f"{self.title}。{self.text}" if self.title else self.text


@dataclass(frozen=True)
class FeatureConfig:
    """Which feature blocks, and how: one point of the family :mod:`tools.dispatch.selection` searches."""

    char_ngrams: tuple[int, int] = (1, 2)
    words: bool = True
    title_weight: float = 1.0
    location: bool = False  # address characters + gazetteer place names
    notes: bool = False  # the operator's note, characters

    def label(self) -> str:
        """Short and readable, for the selection table."""
        parts = [f"char{self.char_ngrams[0]}-{self.char_ngrams[1]}"]
        parts += ["words"] if self.words else []
        parts += [f"title×{self.title_weight:g}"]
        parts += ["place"] if self.location else []
        parts += ["notes"] if self.notes else []
        return "+".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


class _PlaceAnalyser:
    """Picklable analyser: the place names of a document (district, street, community, road)."""

    def __init__(self, gazetteer: Gazetteer | None) -> None:
        self.gazetteer = gazetteer

    def __call__(self, doc: str) -> list[str]:
        loc = extract_location(doc, self.gazetteer)
        parts = (("区", loc.district), ("街道", loc.street), ("社区", loc.community), ("路", loc.road))
        return [f"{kind}:{name}" for kind, name in parts if name]


def _block_vectorizer(key: tuple[Any, ...], gazetteer: Gazetteer | None) -> TfidfVectorizer:
    kind = key[0]
    if kind in ("title", "text", "address", "notes"):
        return TfidfVectorizer(analyzer="char", ngram_range=key[1], sublinear_tf=True, max_features=300_000)
    if kind == "words":
        return TfidfVectorizer(
            tokenizer=words, token_pattern=None, lowercase=False, sublinear_tf=True, max_features=300_000
        )
    if kind == "place":
        return TfidfVectorizer(analyzer=_PlaceAnalyser(gazetteer), use_idf=False, norm="l2")
    raise ValueError(f"unknown feature block {kind}")


def _block_docs(kind: str, docs: Sequence[OrderText]) -> list[str]:
    if kind == "title":
        return [d.title or d.text[:40] for d in docs]
    if kind in ("text", "words"):
        return [d.full for d in docs]
    if kind == "address":
        return [d.address for d in docs]
    if kind == "notes":
        return [d.notes for d in docs]
    return [f"{d.address} {d.full}" for d in docs]  # place: the address column first, then the text


BlockCache = dict[tuple[Any, ...], tuple[TfidfVectorizer, sparse.csr_matrix]]


class OrderFeatures:
    """Fit on training orders; turn orders into one sparse matrix (blocks side by side)."""

    def __init__(self, config: FeatureConfig | None = None, gazetteer: Gazetteer | None = None) -> None:
        self.config = config or FeatureConfig()
        self.gazetteer = gazetteer
        self._blocks: list[tuple[tuple[Any, ...], float, TfidfVectorizer]] = []

    def _keys(self) -> list[tuple[tuple[Any, ...], float]]:
        c = self.config
        keys: list[tuple[tuple[Any, ...], float]] = [
            (("title", (1, 2)), c.title_weight),
            (("text", c.char_ngrams), 1.0),
        ]
        keys += [(("words",), 1.0)] if c.words else []
        keys += [(("address", (1, 3)), 1.0), (("place",), 1.0)] if c.location else []
        keys += [(("notes", (1, 3)), 1.0)] if c.notes else []
        return keys

    def fit_transform(self, docs: Sequence[OrderText], cache: BlockCache | None = None) -> sparse.csr_matrix:
        """Learn the vocabularies (a block already in ``cache`` is reused) and return the training matrix."""
        cache = {} if cache is None else cache
        self._blocks, parts = [], []
        for key, weight in self._keys():
            if key not in cache:
                vectorizer = _block_vectorizer(key, self.gazetteer)
                try:
                    matrix = vectorizer.fit_transform(_block_docs(key[0], docs)).tocsr()
                except ValueError:  # an empty column: no vocabulary, the block contributes nothing
                    vectorizer, matrix = None, sparse.csr_matrix((len(docs), 0))
                cache[key] = (vectorizer, matrix)
            vectorizer, matrix = cache[key]
            self._blocks.append((key, weight, vectorizer))
            parts.append(matrix * weight if weight != 1.0 else matrix)
        return sparse.hstack(parts).tocsr()

    def transform(self, docs: Sequence[OrderText]) -> sparse.csr_matrix:
        """Features of new orders."""
        parts = []
        for key, weight, vectorizer in self._blocks:
            if vectorizer is None:
                parts.append(sparse.csr_matrix((len(docs), 0)))
                continue
            matrix = vectorizer.transform(_block_docs(key[0], docs))
            parts.append(matrix * weight if weight != 1.0 else matrix)
        return sparse.hstack(parts).tocsr()

    def feature_names(self) -> list[str]:
        """Readable names, in matrix column order (for explaining a suggestion)."""
        prefixes = {"title": "标题:", "address": "地址:", "notes": "备注:"}
        names: list[str] = []
        for key, _, vectorizer in self._blocks:
            if vectorizer is not None:
                names += [f"{prefixes.get(key[0], '')}{n}" for n in vectorizer.get_feature_names_out()]
        return names
