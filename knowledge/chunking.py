"""Structure-aware chunking of Chinese legal and policy text.

A chunk is one article (第X条) with its 款 and 项 kept inside it, labelled with the
article and the heading path (编/章/节) it stands under, and carrying character offsets
into the source text, so ``source[start:end] == chunk.text`` always holds and a citation
can point at the exact words. Articles longer than ``max_chars`` are split at sentence
ends with ``overlap`` characters repeated. Text before the first article (a preamble,
序言) becomes its own chunk; a table of contents (目录) does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.documents import PolicyDocument

_NUM = r"[一二三四五六七八九十百千零〇两\d]+"
ARTICLE = re.compile(rf"^[ \t　]*(第{_NUM}条(?:之{_NUM})?)(?=[ \t　]|$)")
_HEADING_KIND = re.compile(rf"^第{_NUM}([编章节])(?:[ \t　]|$)")
_LEVEL = {"编": 0, "章": 1, "节": 2}
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_TOC = re.compile(r"^\s*目\s*录\s*$")
_SENTENCE_END = "。；！？\n"
_MAX_HEADING_CHARS = 40


@dataclass(frozen=True)
class Chunk:
    """One citable passage."""

    doc_id: str
    index: int
    article: str
    part: int
    heading_path: tuple[str, ...]
    start: int
    end: int
    text: str

    @property
    def key(self) -> str:
        """``doc_id:index``: stable while the document's text is unchanged."""
        return f"{self.doc_id}:{self.index}"

    @property
    def label(self) -> str:
        """``第十二条`` (with ``（二）`` for later parts of a split article)."""
        if not self.article:
            return "序言"
        return self.article if self.part == 0 else f"{self.article}（续{self.part}）"


def _heading(line: str) -> tuple[int, str] | None:
    """(level, text) when the line is a 编/章/节 heading (Markdown or plain)."""
    text = line.strip()
    md = _MD_HEADING.match(text)
    if md:
        text = md.group(2).strip()
    m = _HEADING_KIND.match(text)
    if m and len(text) <= _MAX_HEADING_CHARS and "。" not in text:
        return _LEVEL[m.group(1)], re.sub(r"[ \t　]+", " ", text)
    if md and len(md.group(1)) >= 2 and not ARTICLE.match(text):
        # an unnumbered Markdown heading ("## 附则"): "##" stands where 章 does, "###" where 节 does
        return len(md.group(1)) - 1, text
    return None


def _split_long(start: int, end: int, source: str, max_chars: int, overlap: int) -> list[tuple[int, int]]:
    """Spans of at most ``max_chars``, cut after a sentence end where possible, overlapping."""
    spans: list[tuple[int, int]] = []
    pos = start
    while end - pos > max_chars:
        limit = pos + max_chars
        cut = max((source.rfind(ch, pos + max_chars // 2, limit) for ch in _SENTENCE_END), default=-1)
        cut = cut + 1 if cut > pos else limit
        spans.append((pos, cut))
        pos = max(cut - overlap, pos + 1)
    spans.append((pos, end))
    return spans


def _trimmed(source: str, start: int, end: int) -> tuple[int, int]:
    while start < end and source[start].isspace():
        start += 1
    while end > start and source[end - 1].isspace():
        end -= 1
    return start, end


Mark = tuple[int, str, tuple[int, str] | str]


def _marks(doc: PolicyDocument) -> list[Mark]:
    """(offset, kind, payload) of every article start, heading and 目录 line, then the end."""
    marks: list[Mark] = []
    offset = doc.body_start
    for line in doc.text[doc.body_start :].split("\n"):
        if m := ARTICLE.match(line):
            marks.append((offset + m.start(1), "article", m.group(1)))
        elif heading := _heading(line):
            marks.append((offset, "heading", heading))
        elif _TOC.match(line):
            marks.append((offset, "toc", ""))
        offset += len(line) + 1
    marks.append((len(doc.text), "end", ""))
    return marks


def chunk_document(doc: PolicyDocument, *, max_chars: int = 800, overlap: int = 120) -> list[Chunk]:
    """The document's chunks, in reading order."""
    source = doc.text
    chunks: list[Chunk] = []
    path: dict[int, str] = {}
    segment_start, segment_article, in_toc = doc.body_start, "", False

    def emit(seg_end: int) -> None:
        start, end = _trimmed(source, segment_start, seg_end)
        if end <= start or (in_toc and not segment_article):
            return  # nothing but blank lines, or a table of contents
        heading_path = tuple(path[level] for level in sorted(path))
        for part, span in enumerate(_split_long(start, end, source, max_chars, overlap)):
            a, b = _trimmed(source, *span)
            chunks.append(
                Chunk(doc.doc_id, len(chunks), segment_article, part, heading_path, a, b, source[a:b])
            )

    for pos, kind, payload in _marks(doc):
        emit(pos)
        if isinstance(payload, tuple):  # a heading: it replaces its level and everything below
            level, text = payload
            path = {lvl: t for lvl, t in path.items() if lvl < level}
            path[level] = text
            segment_start, segment_article = source.find("\n", pos) + 1 or len(source), ""
        elif kind == "article":
            segment_start, segment_article, in_toc = pos, payload, False
        elif kind == "toc":
            segment_start, segment_article, in_toc = pos, "", True
    return chunks
