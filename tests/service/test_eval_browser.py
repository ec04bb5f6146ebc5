"""/eval in a real browser: an evaluator comes from the console, starts a small run and follows it, reads the
Chinese report with a legible confusion matrix, compares two runs on one page, and sends an audited turn to
a suite as a draft."""

from __future__ import annotations

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
from tests.service.test_console_browser import signed_in

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING)
playwright_api = pytest.importorskip("playwright.sync_api")
playwright_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)
RUN_TIMEOUT_MS = 120_000  # a small run on a loaded 2-core machine


@pytest.fixture(scope="module")
def server(staffed_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("evalpage") / "data"
    shutil.copytree(staffed_dir, data)
    settings = load_settings(data_dir=data, llm={"backend": "none"})
    with ServerThread(create_app(settings)) as running:
        yield running.url


def start_and_finish(page: Any, limit: int) -> None:
    expect = playwright_api.expect
    page.get_by_label("评测集", exact=True).select_option("demo_dispatch.v1")
    page.get_by_label("条数上限").fill(str(limit))
    page.get_by_role("button", name="开始评测").click()
    expect(page.locator("#msg")).to_contain_text("已开始评测")
    expect(page.locator("#progress-text")).to_contain_text(
        f"已完成，{limit}/{limit} 条", timeout=RUN_TIMEOUT_MS
    )
    expect(page.get_by_role("link", name="查看评测报告")).to_be_visible()


def test_an_evaluator_runs_reads_and_compares_from_the_page(server: str) -> None:
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = signed_in(browser, server, "analyst")
        page.get_by_role("link", name="评测报告").click()
        page.wait_for_url(f"{server}/eval")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        expect(page.get_by_role("heading", name="开始一次评测")).to_be_visible()
        expect(page.locator("#runs-empty")).to_contain_text("还没有评测运行")
        start_and_finish(page, 3)
        start_and_finish(page, 4)
        rows = page.get_by_role("table", name="评测运行").locator("tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("派单部门准确率")
        compare = page.get_by_role("button", name="对比所选的两次运行")
        expect(compare).to_be_disabled()
        rows.nth(0).get_by_role("checkbox").check()
        rows.nth(1).get_by_role("checkbox").check()
        compare.click()
        page.wait_for_url(re.compile(r"/eval/compare\?a=.+&b=.+"))
        expect(page.get_by_role("heading", name="两次评测运行对比")).to_be_visible()
        expect(page.locator("body")).to_contain_text("共有条目 3 条")
        expect(page.locator("table").first).to_contain_text("派单部门准确率")
        page.go_back()
        page.get_by_role("table", name="评测运行").locator("tbody tr a").first.click()
        page.wait_for_url(re.compile(r"/eval/runs/.+/report\.html"))
        expect(page.get_by_role("heading", name=re.compile("评测运行"))).to_be_visible()
        heads = page.locator("table.cm th.v")
        expect(heads.first).to_be_visible()
        clipped = page.evaluate(
            """() => [...document.querySelectorAll('table.cm th.v')].filter(
                 th => th.scrollHeight > th.clientHeight + 1 || th.scrollWidth > th.clientWidth + 1
               ).map(th => th.textContent)"""
        )
        assert heads.count() >= 2 and clipped == []  # whole department names, none cut off
        browser.close()


def test_an_audited_turn_is_sent_to_a_suite_as_a_draft(server: str) -> None:
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        asked = page.request.post(
            f"{server}/api/chat", data={"message": "公积金租房提取每年能提取几次？", "stream": False}
        )
        assert asked.ok, asked.text()
        page.close()
        page = signed_in(browser, server, "analyst")
        expect(page.get_by_text("analyst（evaluator）")).to_be_visible()
        page.goto(f"{server}/eval")
        turns = page.get_by_role("table", name="最近的居民对话").locator(
            "tbody tr", has_text="公积金租房提取"
        )
        expect(turns).to_have_count(1)
        page.get_by_label("草稿评测集名称").fill("browser-drafts")
        turns.get_by_role("button", name=re.compile("加入草稿")).click()
        expect(page.locator("#msg")).to_contain_text("已加入草稿评测集 drafts/browser-drafts")
        suites = page.get_by_label("评测集", exact=True)
        expect(suites).to_contain_text("drafts/browser-drafts（0 条，1 条草稿未标注）")
        suites.select_option("drafts/browser-drafts")
        page.get_by_role("button", name="开始评测").click()
        expect(page.locator("#msg")).to_contain_text("未标注的草稿")
        browser.close()
