"""Policy documents and their metadata, taken from the text where it is there.

Two shapes are read:

* documents that state their metadata as ``键：值`` lines under the title (the demo city's,
  and most policy portals' exports): 发文机关, 文号, 发布日期, 施行日期, 失效日期, 状态, 类别, 地区;
* the laws corpus (LawRefBook): ``# 标题``, free-form lines such as
  ``2014年11月24日 中华人民共和国国务院令第656号公布``, then ``<!-- INFO END -->``.

What the text does not say can come from a sidecar (``FILE.meta.json``) or the caller,
which override the text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

Status = Literal["现行有效", "已废止", "已失效", "尚未施行"]

_KEYS = {
    "发文机关": "issuer", "发布机关": "issuer", "制定机关": "issuer",
    "文号": "doc_number", "发文字号": "doc_number",
    "发布日期": "publish_date", "成文日期": "publish_date", "公布日期": "publish_date",
    "施行日期": "effective_date", "生效日期": "effective_date",
    "失效日期": "expiry_date", "废止日期": "expiry_date", "有效期至": "expiry_date",
    "状态": "status", "时效性": "status", "效力": "status",
    "类别": "category", "分类": "category",
    "地区": "region", "适用地区": "region",
}  # fmt: skip
_KEY_LINE = re.compile(r"^\s*[-*]?\s*(" + "|".join(_KEYS) + r")\s*[：:]\s*(.+?)\s*$")
_DATE = re.compile(r"(\d{4})\s*[年\-./]\s*(\d{1,2})\s*[月\-./]\s*(\d{1,2})\s*日?")
_DOC_NUMBER = re.compile(
    r"([\u4e00-\u9fa5]{1,12}〔\d{4}〕\d+号|[\u4e00-\u9fa5]{2,20}令第\d+号|[\u4e00-\u9fa5]{2,20}公告第\d+号)"
)
_FILENAME_DATE = re.compile(r"\((\d{4}-\d{2}-\d{2})\)$")
INFO_END = "<!-- INFO END -->"
_REPEALED = ("废止", "已废止")
_EXPIRED = ("失效", "已失效")


def parse_date(text: str) -> date | None:
    """``2024年2月20日`` / ``2024-02-20`` -> date; None when there is no valid date."""
    m = _DATE.search(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


@dataclass(frozen=True)
class DocumentMeta:
    """What a citation and a validity filter need to know about a document."""

    title: str
    issuer: str = ""
    doc_number: str = ""
    publish_date: date | None = None
    effective_date: date | None = None
    expiry_date: date | None = None
    repealed: bool = False
    region: str = ""
    category: str = ""
    source: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def status_on(self, day: date) -> Status:
        """Validity on ``day``: repealed, expired, not yet in force, or in force."""
        if self.repealed:
            return "已废止"
        if self.expiry_date and day > self.expiry_date:
            return "已失效"
        if self.effective_date and day < self.effective_date:
            return "尚未施行"
        return "现行有效"

    def to_payload(self) -> dict[str, Any]:
        """JSON-able form (dates as ISO strings)."""
        data = asdict(self)
        for key in ("publish_date", "effective_date", "expiry_date"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> DocumentMeta:
        """Inverse of :meth:`to_payload`."""
        values = dict(data)
        for key in ("publish_date", "effective_date", "expiry_date"):
            values[key] = date.fromisoformat(values[key]) if values.get(key) else None
        return cls(**values)


@dataclass(frozen=True)
class PolicyDocument:
    """A document's full text (``text`` is what chunk offsets point into) and its metadata."""

    doc_id: str
    text: str
    body_start: int
    meta: DocumentMeta
    content_hash: str


def content_hash(text: str) -> str:
    """sha256 of the text (the incremental-ingestion key)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def doc_id_for(source: str) -> str:
    """A stable id from the document's source path (relative to the ingestion root)."""
    return hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def _title(lines: list[str], fallback: str) -> str:
    for line in lines[:5]:
        if line.startswith("# "):
            return line[2:].strip()
    return _FILENAME_DATE.sub("", fallback).strip()


def _header_end(text: str, lines: list[str]) -> int:
    """Offset where the body starts: after INFO END, or after the title and ``键：值`` block."""
    marker = text.find(INFO_END)
    if marker >= 0:
        return marker + len(INFO_END)
    offset = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if (i < 3 and stripped.startswith("# ")) or not stripped or _KEY_LINE.match(line):
            offset += len(line) + 1
            continue
        break
    return min(offset, len(text))


def _apply_status(values: dict[str, Any], status_text: str) -> None:
    if any(word in status_text for word in _REPEALED):
        values["repealed"] = True
    elif any(word in status_text for word in _EXPIRED) and not values.get("expiry_date"):
        values["extra"]["status"] = status_text


_DAY = r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
_FROM = re.compile(rf"自\s*{_DAY}\s*起(?:施行|实施|执行|生效)|施行日期[:：]\s*{_DAY}")
_TO = re.compile(rf"有效期至\s*{_DAY}|(?:截止|止于|失效日期[:：])\s*{_DAY}")
_YEARS = re.compile(r"有效期\s*([一二三四五六七八九十\d]+)\s*年")
_NUMERALS = {c: i for i, c in enumerate("零一二三四五六七八九十")}


def _day(groups: tuple[str | None, ...]) -> date | None:
    parts = [g for g in groups if g is not None][:3]
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2])) if len(parts) == 3 else None
    except ValueError:
        return None


def document_validity(document: str) -> tuple[date | None, date | None]:
    """The in-force window a policy document states (``自…起施行``, ``有效期至…``, ``有效期N年``)."""
    start = next((d for m in _FROM.finditer(document) if (d := _day(m.groups()))), None)
    end = next((d for m in _TO.finditer(document) if (d := _day(m.groups()))), None)
    if end is None and start is not None and (years := _YEARS.search(document)):
        end = _years_on(start, years)
    return start, end


def _years_on(start: date, years: re.Match[str]) -> date | None:
    """The last day of ``有效期N年`` counted from ``start`` (None when N is no number)."""
    n = int(years.group(1)) if years.group(1).isdigit() else _NUMERALS.get(years.group(1), 0)
    return date(start.year + n, start.month, start.day) - timedelta(days=1) if n else None


_OWN_VALIDITY = re.compile(
    r"本(?:办法|细则|规定|通知|意见|方案|政策|措施|规则|条例|决定)[^。\n]*有效期[^。\n]*"
)


def stated_expiry(body: str) -> date | None:
    """The end of the in-force window a document states of itself ("本办法自…起施行，有效期五年").

    Only a sentence about the document itself counts: a law's "许可证有效期五年" is no expiry of the law.
    """
    for match in _OWN_VALIDITY.finditer(body):
        start, end = document_validity(match.group(0))
        if end is not None:
            return end
        if start is None and (years := _YEARS.search(match.group(0))):  # "有效期五年" with the date elsewhere
            start = document_validity(body)[0]
            if start is not None:
                return _years_on(start, years)
    return None


def extract_meta(text: str, source: str, overrides: dict[str, Any] | None = None) -> tuple[DocumentMeta, int]:
    """Metadata from the text, the source path and ``overrides``; also the body's start offset."""
    lines = text.split("\n")
    body_start = _header_end(text, lines)
    header = text[:body_start]
    path = Path(source)
    values: dict[str, Any] = {"title": _title(lines, path.stem), "source": source, "extra": {}}
    for line in header.split("\n"):
        m = _KEY_LINE.match(line)
        if not m:
            continue
        key, raw = _KEYS[m.group(1)], m.group(2)
        if key.endswith("_date"):
            values[key] = parse_date(raw)
        elif key == "status":
            _apply_status(values, raw)
        else:
            values[key] = raw
    if not values.get("doc_number") and (num := _DOC_NUMBER.search(header)):
        values["doc_number"] = num.group(1)
    if not values.get("publish_date"):
        values["publish_date"] = parse_date(header)
    if not values.get("effective_date") and (m := _FILENAME_DATE.search(path.stem)):
        values["effective_date"] = date.fromisoformat(m.group(1))
    values.setdefault("region", _region_from_path(path))
    values.setdefault("category", path.parent.name if path.parent.name not in ("", ".") else "")
    values.update({k: v for k, v in (overrides or {}).items() if v not in (None, "")})
    if not values.get("expiry_date"):  # "本办法自…起施行，有效期至…/有效期N年" in the text itself
        values["expiry_date"] = stated_expiry(text[body_start:])
    return DocumentMeta(**values), body_start


def _region_from_path(path: Path) -> str:
    for part in path.parts:
        if part.endswith("地方法规"):
            return part.removesuffix("地方法规")
    return ""


def read_sidecar(path: Path) -> dict[str, Any]:
    """Overrides from ``FILE.meta.json`` next to ``FILE`` (empty when there is none)."""
    sidecar = path.with_name(path.name + ".meta.json")
    if not sidecar.is_file():
        return {}
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{sidecar}: expected a JSON object")
    for key in ("publish_date", "effective_date", "expiry_date"):
        if isinstance(data.get(key), str):
            data[key] = parse_date(data[key]) or date.fromisoformat(data[key])
    return data


def make_document(text: str, source: str, overrides: dict[str, Any] | None = None) -> PolicyDocument:
    """A :class:`PolicyDocument` from text (line endings normalised to LF)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    meta, body_start = extract_meta(text, source, overrides)
    return PolicyDocument(doc_id_for(source), text, body_start, meta, content_hash(text))
