"""The demo city: the shipped data is what the seeded generator makes, and it agrees with its documents."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from knowledge.chunking import chunk_document
from knowledge.documents import make_document
from service.demo_city import DOCUMENTS_DIR, ENTERPRISES_CSV, WORK_ORDERS_CSV
from service.demo_city.generate import generate
from service.demo_city.geography import DEPARTMENTS
from tools.enterprises.credit_code import is_valid


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def documents() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(DOCUMENTS_DIR.glob("*.md"))}


def test_shipped_csvs_are_exactly_what_the_seeded_generator_writes(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    assert fresh["enterprises"].read_bytes() == ENTERPRISES_CSV.read_bytes()
    assert fresh["work_orders"].read_bytes() == WORK_ORDERS_CSV.read_bytes()


def test_documents_have_real_structure_and_metadata() -> None:
    docs = documents()
    assert len(docs) >= 30
    for name, text in docs.items():
        doc = make_document(text, name)
        assert doc.meta.issuer and doc.meta.doc_number and doc.meta.publish_date, name
        assert len(chunk_document(doc)) >= 5, name


def test_resident_guides_cover_every_required_area() -> None:
    categories = {make_document(t, n).meta.category for n, t in documents().items()}
    for area in [
        "户籍",
        "社保",
        "医保",
        "公积金",
        "住房",
        "教育入学",
        "垃圾分类",
        "停车",
        "养老",
        "无障碍",
        "12345热线",
    ]:
        assert area in categories, area


def test_hotline_rules_state_deadlines_by_urgency() -> None:
    text = documents()["22-12345政务服务便民热线工单办理规定.md"]
    for phrase in [
        "特急工单受理后三十分钟内派发",
        "紧急工单二十四小时内响应，三个工作日内办结",
        "一般工单五个工作日内办结",
    ]:
        assert phrase in text


def test_responsibility_list_names_every_department_dispatched_to() -> None:
    duties = documents()["23-12345热线派单目录及部门权责清单.md"]
    listed = set(re.findall(r"^第[^条]+条 (\S+?)：", duties, re.MULTILINE))
    assert len(listed) >= 25
    assert set(DEPARTMENTS) <= listed
    assert {r["处置部门"] for r in rows(WORK_ORDERS_CSV)} <= listed


def test_enterprise_policies_have_conditions_and_apply_free_modes() -> None:
    policies = {n: t for n, t in documents().items() if make_document(t, n).meta.category == "惠企政策"}
    assert len(policies) >= 8
    apply_free = [n for n, t in policies.items() if "免申即享" in t]
    on_application = [n for n, t in policies.items() if "依申请办理" in t]
    assert len(apply_free) >= 5 and on_application


def test_enterprises() -> None:
    data = rows(ENTERPRISES_CSV)
    assert len(data) >= 2000
    assert all(is_valid(r["统一社会信用代码"]) for r in data)
    assert len({r["统一社会信用代码"] for r in data}) == len(data)
    assert len({r["名称"] for r in data}) == len(data)
    assert {r["规模"] for r in data} == {"大型", "中型", "小型", "微型"}
    assert sum(r["高新技术企业"] == "是" for r in data) > 100
    assert any(r["信用等级"] == "" for r in data)  # shared data is never complete


def test_work_orders_read_like_varied_hotline_records() -> None:
    data = rows(WORK_ORDERS_CSV)
    assert len(data) >= 1000
    texts = [r["诉求内容"] for r in data]
    assert len(set(texts)) > 0.95 * len(texts)
    assert min(map(len, texts)) >= 15 and max(map(len, texts)) >= 80
    assert {r["紧急程度"] for r in data} == {"一般", "紧急", "特急"}
    assert len({r["处置部门"] for r in data}) >= 25
    assert not any(re.search(r"1[3-9]\d{9}", t) for t in texts)  # callers' numbers are masked
