"""A second city, 海滨市, loaded next to nothing else: its names, deadlines, documents and departments.

The pack (tests/data/citypacks/haibin) has other names, another hotline, other departments,
other deadlines (特急 closed within 1 hour, 紧急 within 12), a Saturday that is a working day,
other order-export columns and its own gazetteer. The app runs with no model (``llm.backend=none``):
answers are the verbatim clauses with their citations.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agents.resident import prompts
from knowledge.embeddings import Embedder, Vectors
from knowledge.registry import DocumentRegistry
from service.app import create_app
from service.city_loader import ingest_documents, load_city_pack
from service.cli import app as cli
from service.container import build_services
from service.settings import load_settings
from tools.citypack import check_pack, loaded_city, read_pack
from tools.db import migrate
from tools.dispatch.location import extract_location
from tools.subsidies.rules import parse_rule
from tools.subsidies.store import RuleStore
from tools.work_orders import NewWorkOrder, State, Urgency

HAIBIN = Path(__file__).resolve().parents[1] / "data" / "citypacks" / "haibin"
LOCAL = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh data dir with only 海滨市 loaded."""
    data = tmp_path_factory.mktemp("haibin")
    services = build_services(load_settings(data_dir=data, llm={"backend": "none"}))
    try:
        load_city_pack(services, HAIBIN)
    finally:
        services.index.close()
        services.engine.dispose()
    return data


@pytest.fixture
def client(loaded: Path, tmp_path: Path) -> Iterator[TestClient]:
    data = tmp_path / "data"
    shutil.copytree(loaded, data)
    settings = load_settings(data_dir=data, llm={"backend": "none"}, chat={"min_bm25_score": 5.0})
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CITYAGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITYAGENT_LLM__BACKEND", "none")
    return tmp_path / "data"


def test_check_lists_every_problem_with_file_and_line_and_loads_nothing(env: Path, tmp_path: Path) -> None:
    pack = tmp_path / "broken"
    shutil.copytree(HAIBIN, pack)
    city = (pack / "city.yaml").read_text("utf-8")
    (pack / "city.yaml").write_text(city.replace("Asia/Shanghai", "Asia/Shangai"), "utf-8")
    hotline = (pack / "hotline.yaml").read_text("utf-8")
    (pack / "hotline.yaml").write_text(hotline.replace("close: 12小时", "close: 十二小时"), "utf-8")
    with (pack / "orders.csv").open("a", encoding="utf-8") as fh:
        fh.write("HB-X1,路灯,路灯坏了,一般,市不存在局\n")
    result = CliRunner().invoke(cli, ["city", "check", str(pack)])
    assert result.exit_code == 1
    assert f"{pack}/city.yaml:7: timezone: unknown time zone 'Asia/Shangai'" in result.output
    assert f"{pack}/hotline.yaml:4: urgency.紧急.close: '十二小时': write e.g." in result.output
    assert f"{pack}/orders.csv:66: 承办单位 市不存在局 is not in the duty list" in result.output
    assert "3 problem(s); nothing loaded" in result.output
    loading = CliRunner().invoke(cli, ["city", "load", str(pack)])
    assert loading.exit_code == 2 and "Asia/Shangai" in loading.output
    assert not (env / "city").exists() and not (env / "index").exists()  # nothing stored


def test_init_writes_a_commented_skeleton_that_passes_check(tmp_path: Path) -> None:
    pack = tmp_path / "new-city"
    result = CliRunner().invoke(cli, ["city", "init", str(pack), "--name", "海滨市", "--ticket-prefix", "HB"])
    assert result.exit_code == 0, result.output
    assert "# 城市基本信息" in (pack / "city.yaml").read_text("utf-8")
    checked, problems = check_pack(pack)
    assert problems == [] and checked is not None and checked.city.name == "海滨市"
    again = CliRunner().invoke(cli, ["city", "init", str(pack), "--name", "海滨市"])
    assert again.exit_code == 2 and "not empty" in again.output


def test_load_is_idempotent_and_says_so(env: Path) -> None:
    first = CliRunner().invoke(cli, ["city", "load", str(HAIBIN)])
    assert first.exit_code == 0, first.output
    assert "4 documents ingested" in first.output and "64 historical orders stored" in first.output
    assert "trained" in first.output and first.output.strip().endswith("海滨市 loaded")
    second = CliRunner().invoke(cli, ["city", "load", str(HAIBIN)])
    assert second.exit_code == 0, second.output
    assert "0 documents ingested (0 chunks), 4 unchanged" in second.output
    assert "orders.csv: unchanged" in second.output and "kept" in second.output
    assert second.output.strip().endswith("nothing changed: 海滨市 was already loaded as it is")


class _Recording:
    """The real embedder, keeping every passage it was given."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.passages = inner, inner.name, list[str]()

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        self.passages.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.inner.embed_query(text)


def test_loading_a_city_embeds_the_configured_length_of_each_article(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, llm={"backend": "none"}, embeddings={"max_chars": 40})
    services = build_services(settings)
    recording = services.embedder = _Recording(services.embedder)
    try:
        migrate(services.engine)
        report = ingest_documents(services, read_pack(HAIBIN))
        titles = [row.meta.title for row in DocumentRegistry(services.engine).all()]
    finally:
        services.index.close()
        services.engine.dispose()
    assert report.documents and recording.passages
    cuts = []
    for passage in recording.passages:  # each is the law's title, a space, then the article's start
        title = next(t for t in titles if passage.startswith(f"{t} "))
        cuts.append(len(passage) - len(title) - 1)
    assert max(cuts) == 40  # embeddings.max_chars, not the Ingestor's own default


def test_the_city_is_read_back_from_the_data_dir(loaded: Path) -> None:
    city = loaded_city(loaded)
    assert city is not None
    assert (city.name, city.assistant, city.hotline, city.ticket_prefix) == (
        "海滨市",
        "海滨市民服务助手",
        "96123",
        "HB",
    )
    texts = prompts.for_city(city)
    assert texts.answer_system.startswith("你是海滨市民服务助手")
    assert "96123" in texts.not_covered and "HB2026" in texts.no_tickets
    assert not any("示例" in value or "12345" in value for value in vars(texts).values())
    where = extract_location("灯塔街那边的观潮路路灯坏了", city.gazetteer)
    assert (where.district, where.street) == ("海港区", "灯塔街道")  # by alias and road


def test_a_resident_question_is_answered_from_its_documents_with_citation(client: TestClient) -> None:
    page = client.get("/").text
    assert "<title>海滨市人民政府 · 政务服务</title>" in page and 'data-title="海滨市民服务助手"' in page
    hello = client.post("/api/chat", json={"message": "你好", "stream": False}).json()
    assert "海滨市民服务助手" in hello["answer"]
    reply = client.post("/api/chat", json={"message": "海水浴场每天几点开放？", "stream": False}).json()
    assert reply["citations"], reply
    first = reply["citations"][0]
    assert first["citation"] == "〔海滨市海水浴场安全管理办法 第三条〕"
    assert "每日8时至18时" in reply["answer"]


def test_a_report_gets_the_citys_ticket_and_deadlines(client: TestClient) -> None:
    client.post("/api/chat", json={"message": "海港区灯塔路路灯不亮，今天晚上发现的", "stream": False})
    filed = client.post("/api/chat", json={"message": "确认", "stream": False}).json()
    ticket = filed["ticket"]
    assert ticket.startswith("HB") and ticket in filed["answer"]
    services = client.app.state.services  # type: ignore[attr-defined]
    order = services.store.get(ticket)
    assert (order.district, order.street) == ("海港区", "灯塔街道")
    friday = datetime(2026, 9, 25, 17, 0, tzinfo=LOCAL)  # Saturday is a working day in 海滨市
    accepted = services.store.transition(ticket, State.ACCEPTED, "hotline", now=friday.astimezone(UTC))
    assert accepted.urgency == Urgency.NORMAL
    assert accepted.dispatch_due == friday + timedelta(hours=4)
    assert accepted.close_due == datetime(2026, 9, 28, 17, 0, tzinfo=LOCAL)  # Sat 26, Mon 28
    eve = datetime(2026, 9, 30, 10, 0, tzinfo=LOCAL)  # 10-01 and 10-02 are its holidays
    urgent, _ = services.store.create(NewWorkOrder(text="灯塔路燃气管道外露", urgency=Urgency.URGENT), "t")
    normal, _ = services.store.create(NewWorkOrder(text="观潮路井盖松动", urgency=Urgency.NORMAL), "t")
    urgent = services.store.transition(urgent.ticket, State.ACCEPTED, "hotline", now=eve.astimezone(UTC))
    normal = services.store.transition(normal.ticket, State.ACCEPTED, "hotline", now=eve.astimezone(UTC))
    assert urgent.close_due == eve + timedelta(hours=12)
    assert normal.close_due == datetime(2026, 10, 5, 10, 0, tzinfo=LOCAL)  # Sat 3, (Sun 4), Mon 5


def test_dispatch_suggests_one_of_its_departments_with_its_duty_clause(loaded: Path) -> None:
    services = build_services(load_settings(data_dir=loaded, llm={"backend": "none"}))
    try:
        model = services.dispatch_model
        assert model is not None
        suggestion = model.suggest("井盖", "观潮路人行道的井盖破损了，晚上很危险")
    finally:
        services.engine.dispose()
    top = suggestion.departments[0]
    assert top.department == "市市政公用事业局"
    assert top.duty is not None and top.duty.citation == "〔海滨市96123热线承办单位职责目录 第三条〕"
    departments = {d.department for d in suggestion.departments}
    assert departments <= {"市海洋与渔业局", "市市政公用事业局", "市文化旅游和体育局", "海港区灯塔街道办事处"}


def test_the_second_citys_subsidy_needs_fields_the_demo_does_not_have(loaded: Path) -> None:
    """海滨市's export (信用代码, 企业名称, 参保职工年初人数, 纳税信用等级 A/B/M/C/D …) goes in through its
    own dictionary, and its 稳岗返还 rule decides every enterprise, by figures checked by hand."""
    services = build_services(load_settings(data_dir=loaded, llm={"backend": "none"}))
    try:
        matcher = services.subsidies.matcher()
        (rule,) = services.subsidies.rules()
        day = datetime(2026, 6, 1, tzinfo=UTC).date()
        decided = {
            d.name: (d.decision, d.amount, d.missing_fields)
            for code in [r[0] for r in matcher.db.execute("SELECT credit_code FROM enterprises").fetchall()]
            for d in matcher.explain(code, [rule], day)
        }
    finally:
        services.index.close()
        services.engine.dispose()
    assert decided == {
        "海滨港务物流有限公司": ("eligible", 51600.0, []),  # 6 of 120 laid off: 5% ≤ 5.5%; 60% of 86,000
        "海滨灯塔渔具有限公司": ("eligible", 5400.0, []),  # 4 of 25: 16%, at most 30 staff: ≤ 20%
        "海滨蓝湾酒店有限公司": ("not_eligible", None, []),  # 8 of 80: 10%
        "海滨重工集团有限公司": ("eligible", 450000.0, []),  # 大型: 30% of 1,500,000
        "海滨贝壳文创有限公司": ("eligible", 1440.0, []),  # 纳税信用 M counts
        "海滨潮汐科技有限公司": ("not_eligible", None, []),  # 纳税信用 C
        "海滨浪花餐饮有限公司": (
            "missing_data",
            None,
            ["参保职工年初人数"],
        ),  # 2 laid off of an unknown count
        "海滨礁石建材有限公司": ("not_eligible", None, []),  # premium not paid in full
        "海滨海风电子有限公司": ("not_eligible", None, []),  # 严重失信
        "海滨帆影服饰有限公司": ("missing_data", None, ["纳税信用等级"]),  # blank: missing, never false
    }
    # after its document's 有效期 (2027-12-31) the policy decides nothing, for anyone
    assert matcher.counts(rule, datetime(2028, 1, 1, tzinfo=UTC).date()) == {"not_in_force": 10}


def test_subsidy_match_writes_every_decision_with_its_reasons(
    loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYAGENT_DATA_DIR", str(loaded))
    monkeypatch.setenv("CITYAGENT_LLM__BACKEND", "none")
    out = loaded.parent / "decisions.csv"
    result = CliRunner().invoke(cli, ["subsidy", "match", "--as-of", "2026-06-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "10 decisions (10 enterprises × 1 policies, 2026-06-01)" in result.output
    rows = {r["名称"]: r for r in csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines())}
    assert (
        rows["海滨港务物流有限公司"]["结果"] == "eligible"
        and rows["海滨港务物流有限公司"]["金额元"] == "51600.0"
    )
    assert rows["海滨潮汐科技有限公司"]["未满足的条件"] == "纳税信用等级为A、B或M级"
    assert rows["海滨海风电子有限公司"]["未满足的条件"] == "列入严重失信主体名单"
    assert rows["海滨帆影服饰有限公司"]["缺少的字段"] == "纳税信用等级"
    assert rows["海滨浪花餐饮有限公司"]["缺少的字段"] == "参保职工年初人数"
    assert all(r["依据"] == "〔海滨市失业保险稳岗返还实施办法 第四条〕" for r in rows.values())


def test_subsidy_simulate_prints_a_draft_against_the_active_rule_with_its_cases(
    loaded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    shutil.copytree(loaded, data)
    monkeypatch.setenv("CITYAGENT_DATA_DIR", str(data))
    monkeypatch.setenv("CITYAGENT_LLM__BACKEND", "none")
    services = build_services(load_settings(data_dir=data, llm={"backend": "none"}))
    store = RuleStore(services.engine)
    (active,) = store.active()
    body = active.model_dump(mode="json", by_alias=True)
    body["benefit"]["tiers"][1]["rate"] = 0.5  # 中小微企业 60% → 50%: the first test case now fails
    store.save_draft(parse_rule(body, services.subsidies.dictionary()), "officer")
    services.engine.dispose()
    args = ["subsidy", "simulate", "job-stabilisation", "--version", "2", "--as-of", "2026-06-01"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "job-stabilisation v2（draft）对比 v1（active），2026-06-01，10 家企业" in result.output
    assert (
        "奖补标准：金额变化" in result.output and "〔海滨市失业保险稳岗返还实施办法 第四条〕" in result.output
    )
    assert "测试用例：2/3 通过" in result.output and "未通过 「未减员的中型企业返还60%」" in result.output
    as_json = CliRunner().invoke(cli, [*args, "--json"])
    found = json.loads(as_json.output)
    assert found["before"]["counts"] == found["after"]["counts"] and found["changed_total"] > 0
    for change in found["changed"]:
        assert change["amount_after"] == pytest.approx(change["amount_before"] * 5 / 6)
    assert [t["passed"] for t in found["tests"]] == [False, True, True]
    missing = CliRunner().invoke(cli, ["subsidy", "simulate", "job-stabilisation", "--version", "7"])
    assert missing.exit_code == 2 and "no rule job-stabilisation version 7" in missing.output
