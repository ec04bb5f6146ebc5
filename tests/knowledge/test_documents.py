"""Metadata taken from the text, the path, or a sidecar."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from knowledge.documents import extract_meta, make_document, read_sidecar, stated_expiry
from service.demo_city import DOCUMENTS_DIR


def test_demo_header_lines() -> None:
    path = DOCUMENTS_DIR / "04-住房公积金提取管理办法.md"
    meta, body_start = extract_meta(path.read_text(encoding="utf-8"), path.name)
    assert meta.title == "示例市住房公积金提取管理办法"
    assert meta.issuer == "示例市住房公积金管理委员会"
    assert meta.doc_number == "示公积金委〔2024〕2号"
    assert meta.publish_date == date(2024, 3, 5)
    assert meta.effective_date == date(2024, 4, 1)
    assert meta.category == "公积金" and meta.region == "示例市"
    assert path.read_text(encoding="utf-8")[body_start:].lstrip().startswith("第一条")


def test_repealed_and_expiry() -> None:
    path = DOCUMENTS_DIR / "20-城市绿化管理办法.md"
    meta, _ = extract_meta(path.read_text(encoding="utf-8"), path.name)
    assert meta.repealed
    assert meta.expiry_date == date(2025, 4, 30)
    assert meta.status_on(date(2024, 1, 1)) == "已废止"


def test_validity_on_a_day() -> None:
    meta, _ = extract_meta(
        "# 办法\n\n施行日期：2024年4月1日\n失效日期：2026年12月31日\n\n第一条 内容。", "a.md"
    )
    assert meta.status_on(date(2024, 3, 1)) == "尚未施行"
    assert meta.status_on(date(2025, 1, 1)) == "现行有效"
    assert meta.status_on(date(2027, 1, 1)) == "已失效"


def test_law_corpus_header(shared_data: Path) -> None:
    relative = "行政法规/不动产登记暂行条例(2019-03-24).md"
    text = (shared_data / "policy-corpus" / relative).read_text(encoding="utf-8")
    meta, _ = extract_meta(text, relative)
    assert meta.title == "不动产登记暂行条例"
    assert meta.doc_number == "中华人民共和国国务院令第656号"
    assert meta.publish_date == date(2014, 11, 24)
    assert meta.category == "行政法规"


def test_region_from_local_regulation_path() -> None:
    meta, _ = extract_meta(
        "# 条例\n\n<!-- INFO END -->\n\n第一条 内容。", "DLC/浙江地方法规/地方性法规/杭州/x.md"
    )
    assert meta.region == "浙江"


def test_sidecar_overrides_the_text(tmp_path: Path) -> None:
    doc_path = tmp_path / "通知.txt"
    doc_path.write_text("关于做好工作的通知\n\n第一条 内容。", encoding="utf-8")
    (tmp_path / "通知.txt.meta.json").write_text(
        json.dumps(
            {"title": "示例市关于做好工作的通知", "issuer": "示例市人民政府", "effective_date": "2025-01-01"}
        ),
        encoding="utf-8",
    )
    doc = make_document(doc_path.read_text(encoding="utf-8"), doc_path.name, read_sidecar(doc_path))
    assert doc.meta.title == "示例市关于做好工作的通知"
    assert doc.meta.effective_date == date(2025, 1, 1)


def test_windows_line_endings_and_bom_are_normalised() -> None:
    doc = make_document("\ufeff# 标题\r\n\r\n第一条 内容。\r\n", "w.md")
    assert "\r" not in doc.text and not doc.text.startswith("\ufeff")
    assert doc.meta.title == "标题"


def test_a_document_stating_its_own_validity_gets_an_expiry() -> None:
    assert stated_expiry("第十条 本细则自2023年1月1日起施行，有效期至2025年12月31日。") == date(2025, 12, 31)
    assert stated_expiry("第九条 本办法自2022年10月1日起施行，有效期五年。") == date(2027, 9, 30)
    body = "第一条 …\n第十二条 本办法有效期三年。\n发布日期略。自2024年5月1日起施行。"
    assert stated_expiry(body) == date(2027, 4, 30)


def test_a_licence_valid_for_five_years_is_no_expiry_of_the_law() -> None:
    body = "第三十条 许可证有效期五年。\n第八十条 本法自2019年1月1日起施行。"
    assert stated_expiry(body) is None
    meta, _ = extract_meta(f"# 某某管理法\n\n{body}", "laws/某某管理法.md")
    assert meta.expiry_date is None
