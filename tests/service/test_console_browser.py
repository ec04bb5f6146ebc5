"""The caseworkers' console in a real browser: sign in, pick an order by keyboard, approve the suggestion."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from eval.bench.fast_model import ServerThread
from service.app import create_app
from service.settings import load_settings
from tests.browser import ARGS, CHROMIUM, MISSING
from tests.service.conftest import PASSWORD
from tools.db import DatabaseSettings, make_engine
from tools.work_orders import NewWorkOrder, WorkOrderStore

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING)
playwright_api = pytest.importorskip("playwright.sync_api")

BURST = "北岭区建设路98号供水管道爆裂，水喷得很高，路面已经被淹"


@pytest.fixture(scope="module")
def console(staffed_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("console") / "data"
    shutil.copytree(staffed_dir, data)
    store = WorkOrderStore(make_engine(DatabaseSettings(), data))
    ticket = store.create(NewWorkOrder(text=BURST, title="供水管道爆裂"), "resident")[0].ticket
    store.create(NewWorkOrder(text="东湖区湖滨路小区门口垃圾堆了三天没人清运"), "resident")
    settings = load_settings(data_dir=data, llm={"backend": "none"})
    with ServerThread(create_app(settings)) as server:
        yield server.url, ticket


def test_a_caseworker_signs_in_opens_an_order_by_keyboard_and_approves(console: tuple[str, str]) -> None:
    url, ticket = console
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        page.goto(f"{url}/console")
        page.get_by_label("用户名").fill("hotline")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_label("密码").press("Enter")
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
        page.keyboard.press("Enter")
        expect(page.locator("#msg")).to_contain_text("review:approved")
        expect(detail).to_contain_text("状态：派发")
        expect(detail).to_contain_text("受理 → 派发　hotline")
        expect(page.locator("#dashboard")).to_contain_text("人工改派占比")
        browser.close()
