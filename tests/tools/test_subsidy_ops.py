"""Running 免申即享 for a city: Parquet imports with a schema report, the same rule SQL on PostgreSQL
(through sqlglot), background match jobs with progress and recovery, and the officer's review view."""

from __future__ import annotations

import csv
import json
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import BigInteger, Boolean, Column, Date, Engine, Float, MetaData, String, Table, text, update

from service.demo_city import ENTERPRISES_CSV
from tests.cities import DEMO_FIELDS
from tools.db import migrate
from tools.enterprises.registry import EnterpriseRegistry
from tools.subsidies.jobs import MatchJobs, match_jobs
from tools.subsidies.matcher import Matcher
from tools.subsidies.review import articles, document_validity, review, validity_problems
from tools.subsidies.rules import load_rule, load_rules
from tools.subsidies.sql import transpile

RULES = Path(__file__).resolve().parents[2] / "service" / "demo_city" / "pack" / "rules"
DOCS = RULES.parent / "documents"
AS_OF = date(2025, 3, 1)


def demo_rows() -> list[dict[str, str]]:
    with ENTERPRISES_CSV.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def matcher() -> Iterator[Matcher]:
    m = Matcher(DEMO_FIELDS)
    m.load_rows(DEMO_FIELDS.parse(r) for r in demo_rows())
    yield m


def test_a_parquet_import_stores_good_rows_and_reports_bad_ones_by_row(
    any_engine: Engine, tmp_path: Path
) -> None:
    migrate(any_engine)
    rows = demo_rows()[:50]
    rows[9]["员工数"] = "-3"  # row 10
    rows[19]["统一社会信用代码"] = "91990103E65EHPWE5X"  # row 20: wrong check character
    table = pa.table({k: [r[k] for r in rows] for k in rows[0]})
    path = tmp_path / "enterprises.parquet"
    pq.write_table(table, path)
    report = EnterpriseRegistry(any_engine, DEMO_FIELDS).import_file(path)
    assert report.stored == 48 and report.rejected_rows == 2
    assert [line for line, _ in report.errors] == [10, 20]
    assert "员工数" in report.errors[0][1] and "统一社会信用代码" in report.errors[1][1]
    assert EnterpriseRegistry(any_engine, DEMO_FIELDS).count() == 48


def test_parquet_with_field_names_and_typed_columns_is_read_too(any_engine: Engine, tmp_path: Path) -> None:
    migrate(any_engine)
    records = [DEMO_FIELDS.parse(r) for r in demo_rows()[:5]]
    dumped = [dict(r) for r in records]
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.Table.from_pylist(dumped), path)  # dates, booleans, NULLs as Parquet types
    report = EnterpriseRegistry(any_engine, DEMO_FIELDS).import_file(path)
    assert (report.stored, report.errors) == (5, [])
    assert EnterpriseRegistry(any_engine, DEMO_FIELDS).get(records[0]["credit_code"]) == records[0]


def test_a_file_without_the_required_columns_is_refused_naming_them(
    any_engine: Engine, tmp_path: Path
) -> None:
    migrate(any_engine)
    path = tmp_path / "short.parquet"
    pq.write_table(
        pa.table({"统一社会信用代码": ["91990103E65EHPWE5T"], "名称": ["甲"], "备注": ["x"]}), path
    )
    with pytest.raises(ValueError, match=r"does not know: 备注.*required columns missing: 行业门类"):
        EnterpriseRegistry(any_engine, DEMO_FIELDS).import_file(path)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        EnterpriseRegistry(any_engine, DEMO_FIELDS).import_file(broken)
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        EnterpriseRegistry(any_engine, DEMO_FIELDS).import_file(tmp_path / "enterprises.xlsx")


def test_the_rule_sql_transpiled_for_postgresql_gives_the_same_decisions(
    any_engine: Engine, matcher: Matcher
) -> None:
    if any_engine.dialect.name != "postgresql":
        pytest.skip("the transpiled SQL is checked on PostgreSQL")
    # A warehouse's table with the dictionary's columns, holding what the matcher holds.
    types = {
        "VARCHAR": String(500),
        "BIGINT": BigInteger(),
        "DOUBLE": Float(),
        "BOOLEAN": Boolean(),
        "DATE": Date(),
    }
    table = Table(
        "enterprises", MetaData(), *[Column(n, types[t]) for n, t in DEMO_FIELDS.sql_columns.items()]
    )
    with matcher.db.cursor() as cur:
        rows = [
            dict(zip(DEMO_FIELDS.names, r, strict=True))
            for r in cur.execute("SELECT * FROM enterprises").fetchall()
        ]
    table.drop(any_engine, checkfirst=True)
    table.create(any_engine)
    with any_engine.begin() as conn:
        conn.execute(table.insert(), rows)
    for r in load_rules(RULES, DEMO_FIELDS):
        sql = transpile(matcher.sql(r, AS_OF), "postgres")
        with any_engine.connect() as conn:
            on_pg = {row.credit_code: (row.decision, row.amount) for row in conn.execute(text(sql))}
        with matcher.db.cursor() as cur:
            on_duck = {
                c: (d, a)
                for c, d, a in cur.execute(
                    f"SELECT credit_code, decision, amount FROM ({matcher.sql(r, AS_OF)})"
                ).fetchall()
            }
        assert on_pg.keys() == on_duck.keys() and len(on_pg) == 2400
        differing = [c for c in on_pg if on_pg[c][0] != on_duck[c][0]]
        assert not differing, (r.id, differing[:3])
        amounts = [(on_pg[c][1], on_duck[c][1]) for c in on_pg if on_pg[c][0] == "eligible"]
        assert all(abs(float(p) - float(d)) < 0.01 for p, d in amounts), r.id


def test_an_unknown_dialect_is_named() -> None:
    with pytest.raises(ValueError, match="dialect 'oracle9'"):
        transpile("SELECT 1", "oracle9")


def test_a_match_job_reports_progress_per_policy_and_writes_each_push_list(
    any_engine: Engine, matcher: Matcher, tmp_path: Path
) -> None:
    migrate(any_engine)
    rules = load_rules(RULES, DEMO_FIELDS)
    jobs = MatchJobs(any_engine, tmp_path / "jobs")
    job = jobs.create(rules, AS_OF, "officer")
    assert job["status"] == "queued" and job["progress"] == {"done": 0, "total": 4}
    jobs.run(job["job_id"], matcher, rules, AS_OF)
    done = jobs.get(job["job_id"])
    assert done is not None
    assert (
        done["status"] == "done"
        and done["progress"] == {"done": 4, "total": 4}
        and done["enterprises"] == 2400
    )
    for r in rules:
        assert done["counts"][r.id] == matcher.counts(r, AS_OF)
        path = jobs.push_list(job["job_id"], r.id)
        assert path is not None
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        assert len(lines) - 1 == done["counts"][r.id].get("eligible", 0)
    assert jobs.push_list(job["job_id"], "no-such-rule") is None


def test_a_failing_job_says_why_and_an_interrupted_one_is_marked(
    any_engine: Engine, matcher: Matcher, tmp_path: Path
) -> None:
    migrate(any_engine)
    rules = load_rules(RULES, DEMO_FIELDS)
    jobs = MatchJobs(any_engine, tmp_path / "jobs")
    failing = jobs.create(rules, AS_OF, "officer")

    class Broken(Matcher):
        def push_list_csv(self, rule: Any, as_of: date) -> tuple[str, int]:
            if rule.id == rules[1].id:
                raise RuntimeError("disk full")
            return super().push_list_csv(rule, as_of)

    broken = Broken(DEMO_FIELDS)
    broken.load_rows(DEMO_FIELDS.parse(r) for r in demo_rows()[:10])
    jobs.run(failing["job_id"], broken, rules, AS_OF)
    state = jobs.get(failing["job_id"])
    assert state is not None and state["status"] == "failed" and "disk full" in state["error"]
    assert state["progress"]["done"] == 1 and jobs.push_list(failing["job_id"], rules[0].id) is not None
    left = jobs.create(rules, AS_OF, "officer")  # queued by this process, which "stops"
    live = jobs.create(rules, AS_OF, "officer")  # running in another live process on this host
    away = jobs.create(rules, AS_OF, "officer")  # on another machine, still making progress
    gone = jobs.create(rules, AS_OF, "officer")  # on another machine that vanished an hour ago
    host = socket.gethostname()
    with any_engine.begin() as conn:
        for job, runner, age in ((live, f"{host}:1", 0), (away, "node-2:4242", 1), (gone, "node-3:77", 61)):
            conn.execute(
                update(match_jobs).where(match_jobs.c.id == job["job_id"])
                .values(runner=runner, updated_at=datetime.now(UTC) - timedelta(minutes=age))
            )  # fmt: skip
    assert jobs.recover() == 2
    after = jobs.get(left["job_id"])
    assert after is not None and after["status"] == "interrupted" and "start it again" in after["error"]
    assert [jobs.get(j["job_id"])["status"] for j in (live, away, gone)] == [
        "queued",
        "queued",
        "interrupted",
    ]  # type: ignore[index]


def test_the_review_puts_each_condition_beside_its_clause_and_flags_invented_quotes() -> None:
    rule = load_rule(RULES / "hightech-award.yaml", DEMO_FIELDS)
    document = (DOCS / "24-高新技术企业认定奖励办法.md").read_text(encoding="utf-8")
    rows = review(rule, document, AS_OF, DEMO_FIELDS)
    # each condition names the fields it reads, with their meaning and unit from the dictionary
    assert rows[0]["fields"] == [
        {"name": "district", "label": "注册区", "type": "text", "unit": "", "meaning": "", "values": None}
    ]
    assert [f["label"] for f in rows[-1]["fields"]] == ["高企认定类型"]
    assert [r["kind"] for r in rows] == [
        "condition",
        "condition",
        "exclusion",
        "exclusion",
        "exclusion",
        "benefit",
    ]
    assert all(r["quote_found"] for r in rows)
    first = rows[0]
    assert first["article"] == "第三条" and first["article_text"].startswith("第三条")
    assert first["quote"] in first["article_text"] and "注册区 属于" in first["condition"]
    assert "20" in rows[-1]["condition"] and rows[-1]["article"] == "第四条"
    tampered = json.loads(rule.model_dump_json(by_alias=True))
    tampered["conditions"][1]["clause"]["quote"] = "近三年内通过高新技术企业认定"
    flagged = review(type(rule).model_validate(tampered), document, AS_OF, DEMO_FIELDS)
    assert [r["quote_found"] for r in flagged][:2] == [True, False]
    unknown = review(rule, None, AS_OF, DEMO_FIELDS)
    assert {r["quote_found"] for r in unknown} == {None}


def test_articles_are_cut_at_the_next_article_heading() -> None:
    text = "标题\n第一条 总则。\n第二条 适用范围：\n（一）制造业；\n（二）采矿业。\n第三条 附则。"
    found = articles(text)
    assert list(found) == ["第一条", "第二条", "第三条"]
    assert found["第二条"].endswith("（二）采矿业。") and "第三条" not in found["第二条"]


def test_a_rule_outside_its_window_never_yields_eligible(matcher: Matcher) -> None:
    """An expired (or not yet valid) policy: no push list, no eligible count, no chat decision."""
    (rule,) = [r for r in load_rules(RULES, DEMO_FIELDS) if r.id == "job-retention-refund"]
    inside, after, before = date(2025, 6, 1), date(2026, 1, 1), date(2025, 2, 28)
    assert matcher.counts(rule, inside).get("eligible", 0) > 0
    for day in (after, before):
        assert matcher.counts(rule, day) == {"not_in_force": 2400}
        assert matcher.push_list(rule, day) == []
        code = matcher.push_list(rule, inside)[0][0]
        assert matcher.explain(code, [rule], day) == []


def test_the_review_flags_a_validity_window_its_document_does_not_state() -> None:
    document = (DOCS / "26-稳岗返还政策实施细则.md").read_text(encoding="utf-8")
    assert document_validity(document) == (date(2025, 3, 1), date(2025, 12, 31))
    rule = load_rule(RULES / "job-retention-refund.yaml", DEMO_FIELDS)
    assert validity_problems(rule, document) == []
    open_ended = rule.model_copy(update={"valid_from": date(2024, 1, 1), "valid_to": None})
    problems = validity_problems(open_ended, document)
    assert problems == [
        "规则自 2024-01-01 起生效，文件写明自 2025-03-01 起施行。",
        "规则未写截止日期，文件写明有效期至 2025-12-31。",
    ]
    assert validity_problems(rule, None) == ["找不到政策文件原文，无法核对规则的有效期。"]
    for path in sorted(RULES.glob("*.yaml")):  # every shipped rule agrees with its document
        shipped = load_rule(path, DEMO_FIELDS)
        text = next(p for p in DOCS.glob("*.md") if shipped.document in p.read_text(encoding="utf-8")[:200])
        assert validity_problems(shipped, text.read_text(encoding="utf-8")) == [], path.name
