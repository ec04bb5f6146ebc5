"""The staff console in a real browser: a caseworker approves a dispatch suggestion by keyboard; a policy
officer reads a drafted rule beside its clauses, sees the invented quote flagged, and approves the draft."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eval.bench.fast_model import ServerThread
from service.app import create_app
from service.settings import load_settings
from tests.browser import ARGS, CHROMIUM, EXPECT_TIMEOUT_MS, MISSING
from tests.service.conftest import PASSWORD
from tools.db import DatabaseSettings, make_engine
from tools.subsidies.rules import load_rule
from tools.subsidies.store import RuleStore
from tools.work_orders import NewWorkOrder, WorkOrderStore

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING)
playwright_api = pytest.importorskip("playwright.sync_api")
playwright_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)  # a loaded 2-core machine is slow

BURST = "北岭区建设路98号供水管道爆裂，水喷得很高，路面已经被淹"
RULES = Path(__file__).resolve().parents[2] / "service/demo_city/pack/rules"


@pytest.fixture(scope="module")
def console(staffed_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("console") / "data"
    shutil.copytree(staffed_dir, data)
    engine = make_engine(DatabaseSettings(), data)
    store = WorkOrderStore(engine)
    burst = NewWorkOrder(text=BURST, title="供水管道爆裂", contact_phone="13812345678")
    ticket = store.create(burst, "resident")[0].ticket
    store.create(NewWorkOrder(text="东湖区湖滨路小区门口垃圾堆了三天没人清运"), "resident")
    rule = load_rule(RULES / "hightech-award.yaml")
    drafted = json.loads(rule.model_dump_json(by_alias=True))
    drafted["conditions"][1]["clause"]["quote"] = "近三年内通过高新技术企业认定"  # as a model might invent it
    RuleStore(engine).save_draft(type(rule).model_validate(drafted), "model-draft")
    rd = json.loads(load_rule(RULES / "rd-subsidy.yaml").model_dump_json(by_alias=True))
    stricter = next(c for c in rd["conditions"] if c["id"] == "rd_at_least_2m")
    stricter["value"], stricter["label"] = 300, "上一年度研发费用不低于300万元"  # its 恰为200万元 case fails
    RuleStore(engine).save_draft(type(rule).model_validate(rd), "officer")
    settings = load_settings(data_dir=data, llm={"backend": "none"})
    with ServerThread(create_app(settings)) as server:
        yield server.url, ticket


def signed_in(browser: Any, url: str, username: str) -> Any:
    """A console page signed in as ``username`` (typed into the form, submitted with Enter)."""
    page = browser.new_page()
    page.goto(f"{url}/console")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_label("密码").press("Enter")
    return page


def test_a_caseworker_signs_in_opens_an_order_by_keyboard_and_approves(console: tuple[str, str]) -> None:
    url, ticket = console
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = signed_in(browser, url, "hotline")
        expect(page.get_by_text("hotline（caseworker）")).to_be_visible()
        row = page.locator(f"tr[data-ticket='{ticket}']")
        expect(row).to_be_visible()
        row.focus()
        page.keyboard.press("Enter")
        detail = page.locator("#detail")
        expect(detail).to_contain_text("示例市供水集团有限公司")
        expect(detail.locator(".duty").first).to_contain_text("〔示例市12345热线派单目录及部门权责清单")
        approve = page.get_by_role("button", name=re.compile("同意派发至 示例市供水集团有限公司"))
        expect(approve).to_be_focused()
        units = detail.locator("#change-dept option")  # only the city's units: nothing can be typed
        expect(units.filter(has_text="市公安局交通警察支队")).to_have_count(1)
        assert detail.locator("input#change-dept").count() == 0
        page.keyboard.press("Enter")
        expect(page.locator("#msg")).to_contain_text("（审核同意）")
        expect(detail).to_contain_text("状态：派发")
        expect(detail).to_contain_text("受理 → 派发　hotline")
        expect(detail).not_to_contain_text("13812345678")  # the call-back number only on request
        detail.get_by_role("button", name=re.compile("查看回电号码")).click()
        expect(detail.locator(".contact-phone")).to_have_text("13812345678")
        expect(page.locator("#dashboard")).to_contain_text("人工改派占比")
        browser.close()


def test_a_policy_officer_reviews_a_draft_beside_its_clauses_and_approves_it(
    console: tuple[str, str],
) -> None:
    url, _ = console
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = signed_in(browser, url, "officer")
        expect(page.get_by_text("officer（policy_officer）")).to_be_visible()
        expect(page.locator("#app")).to_be_hidden()  # not a caseworker: no order queue
        row = page.locator("#rules tr", has_text="hightech-award")
        expect(row).to_contain_text("待审核")
        row.focus()
        page.keyboard.press("Enter")
        detail = page.locator("#rule-detail")
        expect(detail).to_contain_text("1 条引文未在原文中逐字找到")
        flagged = detail.locator("td.flag")
        expect(flagged).to_have_count(1)
        expect(flagged).to_contain_text("近三年内通过高新技术企业认定")
        first = detail.locator("tbody tr").first
        expect(first.locator("td").nth(0)).to_contain_text("在本市注册登记")
        expect(first.locator("td").nth(1)).to_contain_text("在本市注册登记并依法纳税")
        expect(first.locator("td").nth(2)).to_contain_text("第三条")
        expect(detail.locator("#rule-tests")).to_contain_text("6/6 通过")  # the rule's own cases
        summary = detail.locator("#whatif-summary")  # no active version: nothing eligible before
        expect(summary).to_contain_text("2400 家企业")
        expect(summary).to_contain_text("之前 无生效版本（无企业符合）：符合 0，不符合 2400；合计 0 元")
        page.get_by_label("试算日期").fill("2025-03-01")
        page.get_by_role("button", name="重新试算").click()
        expect(summary).to_contain_text("2025-03-01")
        changed = detail.get_by_role("table", name="结果变化的企业").locator("tbody tr")
        expect(changed.first).to_contain_text("不符合")
        expect(changed.first).to_contain_text("〔示例市高新技术企业认定奖励办法 第三条〕")
        page.get_by_role("button", name="审核通过，生效").click()
        expect(page.locator("#msg")).to_contain_text("hightech-award v1 已生效")
        expect(detail).to_contain_text("（生效）")
        browser.close()


def test_a_draft_whose_test_cases_fail_cannot_be_approved(console: tuple[str, str]) -> None:
    url, _ = console
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = signed_in(browser, url, "officer")
        row = page.locator("#rules tr", has_text="rd-subsidy")
        expect(row).to_contain_text("待审核")
        row.focus()
        page.keyboard.press("Enter")
        detail = page.locator("#rule-detail")
        tests = detail.locator("#rule-tests")
        expect(tests).to_contain_text("5/6 通过：未通过的用例会阻止审核通过")
        failed = tests.locator("li.flag")
        expect(failed).to_have_count(1)
        expect(failed).to_contain_text("研发费用恰为200万元的补助20万元")
        expect(failed).to_contain_text("〔示例市企业研发费用补助办法 第二条〕")
        approve = page.get_by_role("button", name="审核通过，生效")
        expect(approve).to_be_disabled()
        expect(detail.locator("#rule-approve-why")).to_contain_text("1 个测试用例未通过")
        expect(detail.locator("#whatif-summary")).to_contain_text("2400 家企业")
        browser.close()  # the server refuses it too (409 rule_tests_failed): test_subsidies_api.py


def test_an_evaluator_finds_the_reports_from_the_console(console: tuple[str, str]) -> None:
    url, _ = console
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = signed_in(browser, url, "analyst")
        expect(page.get_by_text("analyst（evaluator）")).to_be_visible()
        link = page.get_by_role("link", name="评测报告")
        expect(link).to_be_visible()
        link.click()
        page.wait_for_url(f"{url}/eval")
        browser.close()
        page = signed_in(p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS), url, "water")
        expect(page.get_by_text("water（caseworker")).to_be_visible()
        expect(page.get_by_role("link", name="评测报告")).to_be_hidden()  # not an evaluator
