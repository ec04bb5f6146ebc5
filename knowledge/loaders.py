"""Read policy files into plain text: Markdown, text, HTML, DOCX and text PDFs.

Each reader raises ``ValueError`` saying what is wrong with the file, which ingestion
reports with the path. Scanned PDFs (images without a text layer) are refused, not read:
they need OCR first.
"""

from __future__ import annotations

import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import docx  # python-docx
from docx.opc.exceptions import PackageNotFoundError
from lxml import etree
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from tools.csvio import decode_text

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
READABLE = TEXT_SUFFIXES | {".html", ".htm", ".docx", ".pdf"}
_MIN_CHARS_PER_PAGE = 20


class _HTMLText(HTMLParser):
    _BLOCK: ClassVar[frozenset[str]] = frozenset(
        {"p", "div", "br", "li", "tr", "section", "article", "table", "h1", "h2", "h3", "h4", "h5", "h6"}
    )
    _SKIP: ClassVar[frozenset[str]] = frozenset({"script", "style", "nav", "footer", "header", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self._BLOCK:
            self.parts.append("\n")
            if tag in {"h2", "h3", "h4"}:
                self.parts.append("#" * int(tag[1]) + " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Text of an HTML page, one block per line, ``# title`` first."""
    parser = _HTMLText()
    parser.feed(html)
    body = re.sub(r"[ \t\u3000]*\n[ \t\u3000\n]*", "\n\n", "".join(parser.parts)).strip()
    return f"# {parser.title}\n\n{body}\n" if parser.title else body + "\n"


def docx_to_text(path: Path) -> str:
    """Paragraphs (headings marked) and table rows of a Word document."""
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a readable DOCX file ({exc.__class__.__name__})") from exc
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not a readable DOCX file: broken XML inside ({exc.msg})") from exc
    lines: list[str] = []
    title = (document.core_properties.title or "").strip()
    if title:
        lines.append(f"# {title}")
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "").lower()
        if style == "title" and not title:
            lines.append(f"# {text}")
        elif style.startswith("heading"):
            lines.append(f"## {text}")
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text.strip() for cell in row.cells))
    return "\n\n".join(lines) + "\n"


def pdf_to_text(path: Path) -> str:
    """The text layer of a PDF; a PDF without one (scanned) is refused."""
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise ValueError("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise ValueError(f"not a readable PDF ({exc})") from exc
    text = "\n".join(pages)
    if len(re.sub(r"\s", "", text)) < _MIN_CHARS_PER_PAGE * max(1, len(pages)):
        raise ValueError("scanned PDF without a text layer: not read (run OCR on it first)")
    return text


def load_text(path: Path) -> str:
    """The text of a policy file, whatever its format; ``ValueError`` says why it cannot be read."""
    suffix = path.suffix.lower()
    if suffix not in READABLE:
        raise ValueError(
            f"unsupported file type {suffix or '(none)'}; readable: {', '.join(sorted(READABLE))}"
        )
    if suffix == ".docx":
        return docx_to_text(path)
    if suffix == ".pdf":
        return pdf_to_text(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError("the file is empty")
    text = decode_text(raw, path.name)
    return html_to_text(text) if suffix in {".html", ".htm"} else text
