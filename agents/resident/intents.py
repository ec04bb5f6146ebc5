"""What a resident's message is: read by rules, before any model sees it.

The router is deterministic on purpose. On the embedded 1.5B model one structured call
costs seconds, and a wrong route is worse than a slow one: an emergency must be
recognised every time, and a request for someone else's data refused every time,
whatever the model would have said. The rules are auditable (the route is in the audit
record) and testable; the model is kept for what it is good at, the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agents.resident import abuse, emergency
from tools.privacy import is_public_credit_code

Route = Literal["question", "report", "followup", "subsidy", "out_of_scope", "abuse", "privacy", "greeting"]

# Problems a resident reports for someone to fix or look into.
_REPORT = re.compile(
    r"投诉|举报|报修|反映|报告|提交诉求|转人工|人工服务|我要报|"
    r"坏了|损坏|破损|漏水|渗水|爆裂|爆管|停水|停电|没水|没电|堵塞|堵了|积水|污水|冒水|"
    r"噪音|噪声|扰民|吵|异味|臭|垃圾.{0,4}(?:没人|没有人|无人|堆|满)|乱停|乱扔|乱堆|乱搭|违建|违章|"
    r"占道|井盖|路灯.{0,3}(?:不亮|坏)|不亮|塌陷|坑|倒了|隐患|危险|脱落|断了|流浪狗|咬人|"
    r"拖欠|欠薪|不退|乱收费|油烟"
)
_CREDIT_CODE = re.compile(r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})(?![0-9A-Z])")
_TICKET = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,6}\d{14})(?!\d)")
_FOLLOWUP = re.compile(
    r"进度|进展|办得怎么样|处理得怎么样|处理了吗|有结果|工单.{0,4}(?:状态|查询|到哪)|查.{0,2}工单|"
    r"(?:处理|办|修|弄|进行)到(?:哪|什么)|哪一步|"
    # the resident's own earlier report, asked after (我刚才反映的路灯问题怎么样了)
    r"(?:刚才|刚刚|之前|上次|前几天|昨天|我)(?:反映|报修|投诉|举报|提交)(?:过|了)?的.{0,16}?"
    r"(?:怎么样|如何|有人管|有人处理|处理了|修好|解决了|办好|回复|结果|什么时候)"
)
_SUBSIDY = re.compile(
    r"(?:企业|公司|厂|单位|商户|个体户|小微).{0,12}(?:补贴|补助|奖励|扶持|贴息|返还|政策|资金|免申即享)|"
    r"免申即享|惠企|高新技术企业|专精特新|稳岗|研发费用|规上|限上|绿色工厂|创业担保贷款"
)
# Someone else's personal data: a named or third person's number, ID, address or orders.
_PRIVACY = re.compile(
    r"(?:查|查询|查一下|告诉我|给我|提供|发我|要|调取|知道)"
    r".{0,10}(?:别人|他人|其他人|邻居|某人|这个人|那个人|(?<!其)他|她|[\u4e00-\u9fa5](?:先生|女士))的?"
    r".{0,6}(?:电话|手机|号码|身份证|住址|家庭地址|工单|个人信息|隐私)"
)
_GREETING = re.compile(
    r"^(?:你好|您好|在吗|hi|hello|嗨|喂|谢谢|多谢|好的|再见)[!！。.？?～~]*$", re.IGNORECASE
)


@dataclass(frozen=True)
class Reading:
    """What the rules read in one message."""

    route: Route
    emergency: bool = False
    ticket: str | None = None
    services: tuple[str, ...] = ()  # for an emergency: the numbers to call, the first one first
    kinds: tuple[str, ...] = ()  # for an emergency: gas, fire, trapped, medical… (the notice's advice)


def is_emergency(text: str) -> bool:
    """Fire, gas, injury, people trapped, violence: say 119/120/110 at once (see ``emergency``)."""
    return emergency.detect(text) is not None


def ticket_in(text: str) -> str | None:
    """A ticket number written in the text (``SL20261123000042``)."""
    match = _TICKET.search(text.upper())
    return match.group(1) if match else None


def credit_code_in(text: str) -> str | None:
    """A unified social credit code written in the text (18 characters, its check character right).

    A resident ID number has the same length and may be all digits: it is told apart by the check
    characters (GB 32100's mod 31 against the ID's MOD 11-2 and birth date), so a report that gives
    an ID number stays a report and is never taken to the subsidy matcher.
    """
    for match in _CREDIT_CODE.finditer(text.upper()):
        if is_public_credit_code(match.group(1)):
            return match.group(1)
    return None


_FACT_VALUE = r"\s*(?:[:：=]|是|为|有)?\s*(-?\d+(?:\.\d+)?|是|否|有|无|[ABCD](?=级|\b|$))"


def facts_in(text: str, labels: list[str]) -> dict[str, str]:
    """Values stated for the named fields (``参保人数 35``, ``欠缴税款：否``, ``信用等级为A``), by label."""
    found: dict[str, str] = {}
    for label in labels:
        match = re.search(re.escape(label) + _FACT_VALUE, text.upper() if label == "信用等级" else text)
        if match:
            found[label] = match.group(1)
    return found


def is_greeting(text: str) -> bool:
    """Hello, thanks, goodbye: no retrieval needed."""
    return bool(_GREETING.match(text.strip()))


_QUESTION = re.compile(r"[？?]\s*$|怎么|如何|什么|哪些|哪里|多少|能不能|可不可以|是否|需不需要|吗\s*$")


def looks_like_question(text: str) -> bool:
    """A question about rules or services (not the answer to the assistant's own question)."""
    return bool(_QUESTION.search(text))


def read(text: str) -> Reading:  # noqa: PLR0911 - one return per route reads best
    """The route of a new message (a message answering the agent's own question is handled before)."""
    danger = emergency.detect(text)
    ticket = ticket_in(text)
    if danger:  # before abuse: "卧槽着火了" is a fire
        return Reading("report", True, services=danger.services, kinds=danger.kinds)
    if abuse.is_abuse(text):
        return Reading("abuse")
    if _PRIVACY.search(text):
        return Reading("privacy", False, ticket)
    if is_greeting(text):
        return Reading("greeting")
    if ticket or _FOLLOWUP.search(text):
        return Reading("followup", False, ticket)
    if _SUBSIDY.search(text) or credit_code_in(text):
        return Reading("subsidy")
    if _REPORT.search(text) and not _asks_how(text):
        return Reading("report")
    return Reading("question")


_HOW = re.compile(
    r"怎么办理|如何办理|怎么申请|如何申请|需要什么|哪些材料|条件是|多少钱|标准是|能不能|可以吗|吗[？?]?$|[？?]$|"
    # who handles it and how fast: a question about the rules, answered from the documents
    r"找谁|找哪|归谁|归哪|报给谁|哪个部门|哪个单位|哪家|哪个街道|多久|多长时间|要几天|几天能|几天内|几天可以|最晚|时限|"
    r"该咋办|该怎么办|按规定|会不会|要不要|有没有|算啥|算什么|去哪(?:里|儿)?(?:投诉|举报|反映)"
)
# the resident asks to file, not about filing ("我要投诉", "帮我报修"): a report whatever else it asks
_FILE_NOW = re.compile(
    r"(?:我|帮我|给我|想|要)(?:要|想)?(?:投诉|举报|报修|反映|提交诉求)(?!以后|之后|后|吗|的话)|转人工"
)


def _asks_how(text: str) -> bool:
    """Whether it asks about a rule ("停水了怎么申请补偿？", "路灯坏了归哪个部门管") rather than reports."""
    return bool(_HOW.search(text)) and not _FILE_NOW.search(text)


def names_a_problem(text: str) -> bool:
    """Whether a question names a problem someone could be sent to fix (the answer offers a report)."""
    return bool(_REPORT.search(text))
