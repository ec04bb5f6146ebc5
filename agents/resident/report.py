"""A resident's report, from first message to work order: what, where, when, and a number only if wanted.

The draft lives in the conversation's checkpointed state, so it survives a restart and a
work-order store that is down: the resident is told, and "重试" submits it later. The
client key is fixed when the draft is made, so a retried submission never makes two orders.

The draft sees the resident's messages masked (the runner masks them as they arrive): it keeps
the call-back number masked (``138****5678``), and the raw number, taken from the message before
masking, waits in :class:`tools.work_orders.contacts.PendingContacts` until the order is filed.
"""

from __future__ import annotations

import re
import uuid
from typing import Literal, TypedDict

from tools.dispatch.location import Gazetteer, extract_location
from tools.privacy import mask_phone
from tools.work_orders import NewWorkOrder
from tools.work_orders.contacts import tail
from tools.work_orders.lifecycle import Urgency

Asking = Literal["what", "where", "when", "confirm", "retry"]
UNKNOWN_WHEN = "未说明"  # the time a resident could not or did not give

_WHEN = re.compile(
    r"今天|昨天|前天|今早|今晚|昨晚|刚才|刚刚|早上|上午|中午|下午|傍晚|晚上|凌晨|半夜|夜里|深夜|最近|这几天|近期|"
    r"[一二三四五六七八九十两几\d]+\s*(?:天|周|个月|星期|小时|分钟|年)(?:前|以来|了|多)|"
    r"\d{1,2}\s*[点时:：]|\d{1,2}月\d{1,2}[日号]|每天|天天|一直|经常|持续|长期|现在|目前|正在|周[一二三四五六日末]"
)
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?(1[3-9]\d[ -]?\d{4}[ -]?\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?\d{7,8})(?!\d)")
_MASKED_PHONE = re.compile(r"(?<![\d*])(1[3-9]\d\*{4}\d{4}|0\d{2,3}-?\*{4}\d{4})(?![\d*])")
_YES = re.compile(
    r"^(?:确认|确定|是的?|对的?|没错|好的?|可以|提交|确认提交|ok|yes)(?![\u4e00-\u9fa5a-z])|"
    r"^(?:确认|确定|没错|可以|好的)|确认提交|提交吧",
    re.IGNORECASE,
)
# A reply that gives no fact: a yes meant for the summary, or not knowing (确认 / 不知道 / 不记得了)
_NO_FACT = re.compile(
    r"^\s*(?:(?:确认|确定|是的?|对的?|好的?|可以|提交|嗯|ok|yes)|(?:我)?(?:不知道|不清楚|不记得|记不清|忘了|说不清|不确定)"
    r"(?:了|啊|呀)?)[。！!.~～]*\s*$",
    re.IGNORECASE,
)
# The resident's own "补充：" (or 另外/还有) before an amendment: the summary adds its own
_AMEND_LEAD = re.compile(r"^\s*(?:(?:再)?补充(?:一下|一点|说明)?|另外|还有)\s*[:：，,]?\s*")
_CANCEL = re.compile(r"^(?:取消|不用了|算了|不提交|先不)")
_RETRY = re.compile(r"重试|再试|再提交|重新提交|确认|提交")
_CONTINUE = re.compile(r"^\s*(?:继续|接着|继续填写|继续提交)")
_PLACE_HINT = re.compile(
    r"[\u4e00-\u9fa5\d]{2,}(?:路|街|巷|弄|道|号|栋|幢|单元|楼|小区|社区|村|广场|公园|学校|医院|市场|门口|附近|对面|旁边)"
)


class Draft(TypedDict, total=False):
    """A report being put together (checkpointed with the conversation)."""

    key: str
    what: str
    where: str
    district: str
    street: str
    when: str
    phone: str  # masked (138****5678): the raw number is never in the draft
    emergency: bool
    asking: Asking


def _location(text: str, gazetteer: Gazetteer | None) -> tuple[str, str, str]:
    """(address text, district, street) the text gives; empty address when it names no place."""
    loc = extract_location(text, gazetteer)
    parts = [p for p in (loc.district, loc.street, loc.community, loc.address) if p]
    address = "".join(dict.fromkeys(parts))
    if not address and (hint := _PLACE_HINT.search(text)):
        address = hint.group(0)
    return address, loc.district, loc.street


def phone_in(text: str) -> str | None:
    """A call-back number the resident wrote (mobile or landline), digits only."""
    match = _MOBILE.search(text) or _LANDLINE.search(text)
    return re.sub(r"[ \-+]", "", match.group(1)) if match else None


def phone_mention(text: str) -> str | None:
    """The call-back number a message gives, masked as the draft keeps it (raw or masked text)."""
    if match := _MASKED_PHONE.search(text):
        return match.group(1).replace("-", "")
    raw = phone_in(text)
    return mask_phone(raw) if raw else None


def start(text: str, *, emergency: bool, gazetteer: Gazetteer | None = None) -> Draft:
    """A draft from the first message; ``asking`` names the first missing fact."""
    draft: Draft = {"key": uuid.uuid4().hex, "what": "", "where": "", "when": "", "emergency": emergency}
    if not re.fullmatch(r"\s*(?:我要)?(?:投诉|举报|报修|反映问题|提交诉求|转人工|人工服务)[。！!]?\s*", text):
        draft["what"] = text.strip()
    _absorb(draft, text, gazetteer)
    draft["asking"] = next_missing(draft)
    return draft


def _absorb(draft: Draft, text: str, gazetteer: Gazetteer | None) -> None:
    address, district, street = _location(text, gazetteer)
    if address and not draft.get("where"):
        draft.update({"where": address, "district": district, "street": street})
    if not draft.get("when") and (when := _WHEN.search(text)):
        draft["when"] = when.group(0)


def next_missing(draft: Draft) -> Asking:
    """What to ask next: what, where, when, then the confirmation."""
    if not draft.get("what"):
        return "what"
    if not draft.get("where"):
        return "where"
    if not draft.get("when"):
        return "when"
    return "confirm"


Outcome = Literal["ask", "submit", "cancel"]


def is_continue(text: str) -> bool:
    """The resident comes back to a draft they left for a question."""
    return bool(_CONTINUE.match(text))


def answers_draft(draft: Draft, text: str, gazetteer: Gazetteer | None = None) -> bool:
    """Whether a message answers the draft's open question, rather than asking something new."""
    asking = draft.get("asking", "confirm")
    if is_continue(text) or _CANCEL.search(text.strip()) or asking == "what":
        return True
    if asking == "where" and _location(text, gazetteer)[0]:
        return True
    if asking == "when" and _WHEN.search(text):
        return True
    if asking in ("confirm", "retry") and (_YES.search(text) or phone_mention(text)):
        return True
    from agents.resident.intents import looks_like_question  # noqa: PLC0415 - intents imports nothing of ours

    return not looks_like_question(text)


def answer(draft: Draft, text: str, gazetteer: Gazetteer | None = None) -> Outcome:
    """Take the resident's reply to the draft's question; say what happens next."""
    asking = draft.get("asking", "confirm")
    if _CANCEL.search(text.strip()):
        return "cancel"
    if is_continue(text):
        return "ask"
    if asking == "retry":
        return "submit" if _RETRY.search(text) else "ask"
    if asking == "what":
        draft["what"] = text.strip()
        _absorb(draft, text, gazetteer)
    elif asking == "where":
        address, district, street = _location(text, gazetteer)
        if address or not _NO_FACT.match(text):  # "确认" is not a place: the question stays open
            draft.update({"where": address or text.strip(), "district": district, "street": street})
            _absorb(draft, text, gazetteer)
    elif asking == "when":
        if m := _WHEN.search(text):
            draft["when"] = m.group(0)[:40]
        else:  # "确认" / "不记得了" give no time: say so rather than store the word as the time
            draft["when"] = UNKNOWN_WHEN if _NO_FACT.match(text) else text.strip()[:40]
    else:  # confirm: yes (with an optional call-back number), or an amendment
        phone = phone_mention(text)
        if phone:
            draft["phone"] = phone
        if _YES.search(text) or (phone and len(text.strip()) <= 20):
            return "submit"
        amendment = _AMEND_LEAD.sub("", text.strip()) or text.strip()
        draft["what"] = f"{draft.get('what', '')} 补充：{amendment}"
        _absorb(draft, text, gazetteer)
    draft["asking"] = next_missing(draft)
    return "ask"


def work_order(draft: Draft, thread: str, phone: str | None = None) -> NewWorkOrder:
    """The order to create; the client key makes a retried submission return the same order.

    ``phone`` is the raw call-back number held for the conversation: it goes to the order only
    when it is the number the draft names (same last four digits), never from the draft itself.
    """
    wanted = draft.get("phone", "")
    contact = phone if phone and wanted and tail(phone) == tail(wanted) else None
    what = draft.get("what", "")
    text = f"{what}（时间：{draft.get('when') or UNKNOWN_WHEN}；地点：{draft.get('where') or '未说明'}）"
    return NewWorkOrder(
        text=text[:5000],
        title=re.split(r"[，,。！!？?\n]", what, maxsplit=1)[0][:40] or "市民诉求",
        address=draft.get("where", "")[:300],
        district=draft.get("district", ""),
        street=draft.get("street", ""),
        urgency=Urgency.URGENT if draft.get("emergency") else Urgency.NORMAL,
        channel="web-chat",
        contact_phone=contact,
        client_key=f"chat:{thread[-40:]}:{draft['key']}"[:128],
    )
