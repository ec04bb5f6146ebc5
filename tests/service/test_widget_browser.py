"""The chat widget in a real browser (Debian's chromium driven by Playwright).

The service runs on loopback with the demo documents; its model is the scripted fake
OpenAI server, so the answer streams token by token exactly as the real model's would.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from eval.bench.fakes import Reply
from eval.bench.fast_model import FakeOpenAI, ServerThread
from service.app import create_app
from service.demo_city import PACK_DIR
from service.settings import load_settings
from tests.browser import ARGS, CHROMIUM, EXPECT_TIMEOUT_MS, MISSING
from tools.citypack import read_pack, save_city

ANSWER = "租房提取和退休提取实行“秒批”，其他提取在三个工作日内办结〔示例市住房公积金提取管理办法 第六条〕。"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING)
playwright_api = pytest.importorskip("playwright.sync_api")
playwright_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)  # a loaded 2-core machine is slow


@pytest.fixture(scope="module")
def site(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FakeOpenAI]]:
    data = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(demo_dir, data)
    save_city(read_pack(PACK_DIR), data)  # the page and the widget speak as the demo city, as after demo load
    with FakeOpenAI([Reply("是"), Reply(ANSWER)]) as model:  # the judge's 是, then the answer
        settings = load_settings(data_dir=data, llm={"backend": "vllm", "base_url": model.base_url})
        with ServerThread(create_app(settings)) as service:
            yield service.url, model
        model.script.check()  # every call had its scripted reply: no test passed on a degraded answer


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def test_a_resident_asks_sees_a_cited_streamed_answer_and_files_a_report(
    site: tuple[str, FakeOpenAI], browser: object
) -> None:
    url, model = site
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(url)
    page.get_by_role("button", name="打开示例市政务服务助手").click()
    box = page.get_by_label("输入您的问题或要反映的情况")
    expect = playwright_api.expect
    expect(box).to_be_focused()
    box.fill("公积金租房提取多久能办好？")
    box.press("Enter")
    card = page.locator(".ca-cite summary").first
    expect(card).to_have_text("〔示例市住房公积金提取管理办法 第六条〕", timeout=20_000)
    expect(page.locator(".ca-bot .ca-body").last).to_contain_text("三个工作日内办结")
    card.click()
    expect(page.locator(".ca-cite blockquote").first).to_contain_text("第六条 申请人可以通过公积金中心网站")
    assert model.requests[-1]["stream"] is True  # the answer was streamed from the model
    assert model.requests[-2]["max_tokens"] == 1 and model.requests[-2]["logprobs"]  # after the judge's 是

    page.get_by_role("button", name="转人工或提交诉求").click()
    expect(page.locator(".ca-bot .ca-body").last).to_have_text("请简单描述一下您要反映的问题是什么？")
    for message in ("幸福路12号路灯坏了，晚上一片漆黑", "三天前"):
        box.fill(message)
        box.press("Enter")
        expect(box).to_be_enabled()
    expect(page.locator(".ca-bot .ca-body").last).to_contain_text("请确认以下诉求信息")
    box.fill("确认")
    box.press("Enter")
    expect(page.locator(".ca-ticket")).to_have_text(re.compile(r"^工单号：SL\d{14}$"), timeout=10_000)

    if shot := os.environ.get("WIDGET_SCREENSHOT"):
        page.screenshot(path=shot)
    page.reload()  # the conversation comes back from the server
    page.get_by_role("button", name="打开示例市政务服务助手").click()
    expect(page.locator(".ca-ticket")).to_contain_text("工单号：SL")
    expect(page.locator(".ca-cite summary").first).to_have_text("〔示例市住房公积金提取管理办法 第六条〕")
    page.close()


def test_keyboard_large_text_high_contrast_and_a_phone_screen(
    site: tuple[str, FakeOpenAI], browser: object
) -> None:
    url, _ = site
    expect = playwright_api.expect
    page = browser.new_page(viewport={"width": 375, "height": 740})  # type: ignore[attr-defined]
    page.goto(url)
    bubble = page.get_by_role("button", name="打开示例市政务服务助手")
    bubble.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="示例市政务服务助手")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and box["width"] == 375  # full screen on a phone
    large = page.get_by_role("button", name="大字模式")
    large.click()
    expect(large).to_have_attribute("aria-pressed", "true")
    assert page.locator("#cityagent-widget").evaluate("e => getComputedStyle(e).fontSize") == "21px"
    page.get_by_role("button", name="高对比度模式").click()
    expect(page.locator("#cityagent-widget")).to_have_class(re.compile(r"\bca-contrast\b"))
    expect(page.get_by_role("log", name="对话记录")).to_be_attached()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(bubble).to_be_focused()
    page.close()


def test_large_text_on_a_desktop_and_tab_stays_in_the_panel(
    site: tuple[str, FakeOpenAI], browser: object
) -> None:
    url, model = site
    model.script.extend([Reply("是"), Reply(ANSWER)])
    expect = playwright_api.expect
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(url)
    page.get_by_role("button", name="打开示例市政务服务助手").click()
    panel = page.get_by_role("dialog", name="示例市政务服务助手")
    expect(panel).to_be_visible()
    normal = panel.bounding_box()
    page.get_by_role("button", name="大字模式").click()
    large = panel.bounding_box()
    assert normal is not None and large is not None
    assert large["height"] > normal["height"] and large["width"] > normal["width"]  # not cramped at 620 px
    assert large["height"] <= 900 - 100
    talk = page.get_by_role("log", name="对话记录").bounding_box()
    assert talk is not None and talk["height"] >= large["height"] / 2  # the height goes to the conversation
    page.get_by_label("输入您的问题或要反映的情况").fill("公积金租房提取多久能办好？")
    page.keyboard.press("Enter")
    expect(page.locator(".ca-bot .ca-body").last).to_contain_text("三个工作日内办结")
    # the turn is over (focus back in the input)
    expect(page.get_by_role("button", name="发送")).to_be_enabled()
    if shot := os.environ.get("WIDGET_LARGE_SCREENSHOT"):
        page.screenshot(path=shot)
    inside = "() => document.getElementById('ca-panel').contains(document.activeElement)"
    page.get_by_role("button", name="发送").focus()
    page.keyboard.press("Tab")  # past the last control: round to the header, not out to the page
    assert page.evaluate(inside)
    expect(page.get_by_role("button", name="大字模式")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="发送")).to_be_focused()
    page.close()


def test_opened_from_the_keyboard_the_header_buttons_come_first_and_focus_stays_in_the_panel(
    site: tuple[str, FakeOpenAI], browser: object
) -> None:
    url, _ = site
    expect = playwright_api.expect
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(url)
    bubble = page.get_by_role("button", name="打开示例市政务服务助手")
    bubble.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="示例市政务服务助手")
    expect(panel).to_be_focused()  # the dialog itself: its name is read out, and Tab starts at its top
    names = []
    for _ in range(12):  # more presses than there are controls: round the panel, never out of it
        page.keyboard.press("Tab")
        names.append(page.evaluate(
            "() => { const a = document.activeElement;"
            " return document.getElementById('ca-panel').contains(a) ? (a.getAttribute('aria-label') ||"
            " a.textContent.trim() || a.tagName) : 'OUTSIDE:' + a.tagName; }"
        ))  # fmt: skip
    assert names[:4] == ["大字模式", "高对比度模式", "开始新对话", "关闭示例市政务服务助手"]
    assert names.index("对话记录") < names.index("转人工或提交诉求") < names.index("发送")
    assert not any(n.startswith("OUTSIDE") for n in names)
    assert names[names.index("发送") + 1] == "大字模式"  # round again
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(bubble).to_be_focused()  # focus returns to where it was
    page.close()


# Records what the status line showed, in order, whatever the timing: each step line as it was added (with
# its live-region attributes and whether the answer had started yet) and each "seconds waited" text.
RECORD_STATUS = """() => {
  window.__seen = {steps: [], secs: [], live: null};
  const log = document.querySelector('#cityagent-widget .ca-log');
  new MutationObserver((changes) => {
    for (const c of changes) {
      const node = c.target.nodeType === 1 ? c.target : c.target.parentElement;
      for (const added of c.addedNodes) {
        const answered = !!log.querySelector('.ca-bot[aria-busy]');
        if (added.classList && added.classList.contains('ca-wait')) {
          window.__seen.live = [added.getAttribute('role'), added.getAttribute('aria-live'),
            added.querySelector('.ca-secs').getAttribute('aria-hidden')];
          const seen = window.__seen.steps;
          for (const li of added.querySelectorAll('li')) seen.push({text: li.textContent, answered});
        }
        if (added.tagName === 'LI') window.__seen.steps.push({text: added.textContent, answered});
      }
      if (node && node.classList && node.classList.contains('ca-secs') && node.textContent) {
        window.__seen.secs.push(node.textContent);
      }
    }
  }).observe(log, {childList: true, subtree: true, characterData: true});
}"""


def test_while_the_model_is_slow_the_resident_sees_what_is_happening(
    site: tuple[str, FakeOpenAI], browser: object
) -> None:
    url, model = site
    # a busy machine: seconds before the judge's word and the answer's first
    model.script.extend([Reply("是", delay_s=2), Reply(ANSWER, delay_s=3)])
    expect = playwright_api.expect
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(url)
    page.get_by_role("button", name="打开示例市政务服务助手").click()
    page.evaluate(RECORD_STATUS)
    box = page.get_by_label("输入您的问题或要反映的情况")
    box.fill("公积金租房提取多久能办好？")
    box.press("Enter")
    expect(page.locator(".ca-bot .ca-body").last).to_contain_text("三个工作日内办结", timeout=30_000)
    expect(page.locator(".ca-wait")).to_have_count(0)  # replaced by the answer
    seen = page.evaluate("() => window.__seen")
    assert seen["live"] == ["status", "polite", "true"]  # read out as it changes; the seconds are not
    steps = [s["text"] for s in seen["steps"]]
    # at once the widget's own line, then the server's progress events: looking up, found where, writing
    assert steps[0] == "正在处理您的问题…"
    assert steps[1:] == [steps[1], steps[2], "正在根据条款撰写回答…"] and steps[1] == "正在查找相关政策…"
    assert re.match(r"^找到 \d+ 条相关条款，来自《示例市住房公积金提取管理办法》", steps[2])
    assert not any(s["answered"] for s in seen["steps"])  # every step before the answer's first words
    assert any(s.startswith("已等待") for s in seen["secs"])  # the seconds waited, shown
    page.close()
