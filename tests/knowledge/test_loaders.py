"""Reading each file format, and refusing what cannot be read, with the reason."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from knowledge.chunking import chunk_document
from knowledge.documents import make_document
from knowledge.loaders import load_text

ARTICLES = ["第一条 为了规范停车管理，制定本办法。", "第二条 占用消防车通道的，可以立即拖移。"]


def test_html_keeps_blocks_and_drops_scripts(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text(
        "<html><head><title>示例市停车办法</title><script>var x=1;</script></head><body>"
        "<nav>首页 | 政策</nav><h2>第一章 总则</h2>"
        + "".join(f"<p>{a}</p>" for a in ARTICLES)
        + "</body></html>",
        encoding="utf-8",
    )
    text = load_text(page)
    assert text.startswith("# 示例市停车办法")
    assert "var x" not in text and "首页" not in text
    doc = make_document(text, "p.html")
    assert [c.label for c in chunk_document(doc)] == ["第一条", "第二条"]
    assert chunk_document(doc)[0].heading_path == ("第一章 总则",)


def test_docx_paragraphs_headings_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "d.docx"
    document = docx.Document()
    document.core_properties.title = "示例市停车办法"
    document.add_heading("第一章 总则", level=1)
    for article in ARTICLES:
        document.add_paragraph(article)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "区域", "收费标准"
    document.save(str(path))
    text = load_text(path)
    assert text.startswith("# 示例市停车办法")
    assert "## 第一章 总则" in text and "区域\t收费标准" in text
    assert [c.label for c in chunk_document(make_document(text, "d.docx"))] == ["第一条", "第二条"]


def text_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF with a real text layer (Helvetica), written by hand."""
    stream = "BT /F1 12 Tf 72 800 Td " + " ".join(f"({line}) Tj 0 -18 Td" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_text_pdf(tmp_path: Path) -> None:
    path = tmp_path / "t.pdf"
    path.write_bytes(
        text_pdf(["Article 1 Parking is managed by the city.", "Article 2 Fire lanes must stay clear."])
    )
    text = load_text(path)
    assert "Parking is managed" in text and "Fire lanes" in text


def test_scanned_pdf_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)  # a page with no text layer, as a scan has
    with path.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(ValueError, match="scanned PDF"):
        load_text(path)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4 garbage", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", "DOCX"),
        ("sheet.xlsx", b"x", "unsupported file type"),
        ("empty.txt", b"  \n", "empty"),
        ("latin.txt", bytes(range(128, 256)) * 4, "GB18030"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=reason):
        load_text(path)


def test_gb18030_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("# 示例\n\n第一条 内容。\n".encode("gb18030"))
    assert "第一条 内容" in load_text(path)
