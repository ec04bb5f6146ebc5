"""The resident assistant's steps: screen, retrieve, answer, report, status, fixed replies, finish.

Tokens of an answer are written to LangGraph's custom stream as ``{"token": ...}`` as the
model produces them; the emergency notice as ``{"notice": ...}``; a model failure as
``{"error": ...}`` (the turn then ends with the degraded answer, so nothing is lost).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from langgraph.config import get_stream_writer
from sqlalchemy.exc import SQLAlchemyError

from agents.resident import intents, prompts
from agents.resident import report as drafts
from agents.resident.guard import Verified, clean_context, has_content, omissions, verify_answer
from agents.resident.state import ChatMessage, ResidentState
from knowledge.gate import GateModel
from knowledge.gate import features as gate_features
from knowledge.index import SearchFilter
from knowledge.retriever import Hit, PolicyRetriever
from tools import telemetry
from tools.citypack import City, unnamed_city
from tools.db import DatabaseError
from tools.dispatch.location import Gazetteer
from tools.llm import LLMBusyError, LLMClient, LLMError
from tools.privacy import mask_pii
from tools.work_orders import Event, OrderNotFoundError, WorkOrder, WorkOrderError, WorkOrderStore
from tools.work_orders.contacts import PendingContacts

logger = logging.getLogger(__name__)

_FOLLOW_UP = re.compile(r"^(?:那|那么|还有|另外|如果|要是|它|这个|那个|这种|那种|同样)|呢[？?]?$")
_HOLD = len(prompts.NOT_COVERED_MARK)
_MAX_ADDED = 3  # clause parts added to an answer that left a case out


@dataclass
class ResidentDeps:
    """What the graph works with, built by the composition root.

    ``llm`` and ``retriever`` are getters: the model client is replaced when the backend restarts,
    and a vector store that was locked or down is opened again on the next question.
    ``gate``: whether the passages answer the question (``knowledge.gate``); without one, the old
    cut-offs ``min_dense_score`` / ``min_bm25_score`` decide: below both, a passage is not evidence.
    """

    retriever: Callable[[], PolicyRetriever]
    llm: Callable[[], LLMClient]
    store: WorkOrderStore
    gazetteer: Gazetteer | None = None
    k: int = 4
    min_dense_score: float = 0.885
    min_bm25_score: float = 12.0
    gate: GateModel | None = None
    # the model judging whether the clauses answer (LLMClient.choose, P(是)); None: the gate alone decides
    judge_min: float | None = None
    enterprise_category: str | None = "惠企政策"
    # (credit code, facts the enterprise stated by Chinese field name) -> the matcher's explained decisions
    # ``shared_data``: whether the registry's (non-public) record may be used; else the stated facts alone
    subsidies: Callable[..., list[Any]] | None = None
    answer_max_tokens: int = 320
    # raw call-back numbers by conversation, until filed (None: orders are filed without one)
    contacts: PendingContacts | None = None
    city: City = field(default_factory=unnamed_city)  # names, hotline, time zone (from the loaded pack)
    today: Callable[[], date] | None = None  # the city's date (validity notes); None: its clock

    def local_today(self) -> date:
        """Today in the city's time zone: a document that expires tonight there is in force till then."""
        return self.today() if self.today else datetime.now(ZoneInfo(self.city.timezone)).date()


@dataclass(frozen=True)
class CheckedReply:
    """The model's answer after the guard: what the resident reads, which clauses it cites, what was added."""

    checked: Verified
    unsupported: bool  # nothing the clauses support is left (see unsupported_shows_clauses)
    reply: str = ""
    cited: list[dict[str, Any]] = field(default_factory=list)
    added: str = ""  # the cited clauses' cases the answer left out, word for word


def checked_reply(
    raw: str,
    clauses: list[dict[str, Any]],
    question: str,
    hotline: str,
    verify: Callable[..., Verified] = verify_answer,
) -> CheckedReply:
    """The guard's reading of a model answer, and the reply made of it (no streaming, no state).

    The answer node streams from this, and ``eval.bench.reguard`` re-runs it on the model answers a
    run recorded (``verify``: another version of the guard), so a change to the guard is measured on
    real model output without the model.
    """
    checked = verify(raw, clauses, question, hotline)
    if not has_content(checked.text):
        return CheckedReply(checked, unsupported=True)
    cited = [clauses[i] for i in checked.cited] or clauses[:1]
    reply = checked.text
    if not checked.cited:
        reply += "\n依据：" + "".join(_citation_card(c)["citation"] for c in cited)
    added = _omitted_cases(checked.text, clauses, checked.cited or [0], question)
    if added:
        reply += "\n" + added
    return CheckedReply(checked, unsupported=False, reply=reply, cited=cited, added=added)


def unsupported_shows_clauses(gate: dict[str, Any], removed: Sequence[str]) -> bool:
    """Whether an answer with nothing left after the guard shows the clauses (else "not covered").

    Where the guard took out what the model claimed (figures, sentences the clauses do not hold), the
    model answered something they do not say: "not covered", unless the gate (or the judge) is sure
    the clauses answer. An answer that was merely empty ("可以。") shows the clauses.
    """
    invented = any(not r.startswith("〔") for r in removed)
    return gate.get("zone") == "answer" or not invented


def _omitted_cases(answer: str, clauses: list[dict[str, Any]], cited: list[int], question: str) -> str:
    """The cited clauses' figures of the kind the answer gives that it left out, word for word (or "")."""
    parts = omissions(answer, clauses, cited, question)[:_MAX_ADDED]
    if not parts:
        return ""
    lines = [
        _citation_card(clauses[i])["citation"] + "；".join(p for j, p in parts if j == i) + "。"
        for i in dict.fromkeys(i for i, _ in parts)
    ]
    return prompts.ALSO_STATED + "".join(lines)


def as_clause(hit: Hit) -> dict[str, Any]:
    """A retrieved passage as the clause the prompts, the guard and the citations read."""
    text, dropped = clean_context(hit.text)
    payload = hit.payload
    return {
        "point_id": hit.point_id, "title": hit.title, "label": hit.article, "text": text,
        "injection_removed": dropped, "source": payload.get("source", ""),
        "doc_id": payload.get("doc_id", ""),
        "doc_number": payload.get("doc_number", ""), "start": payload.get("start"), "end": payload.get("end"),
        "effective_date": payload.get("effective_date") or "",
        "expiry_date": payload.get("expiry_date") or "",
        "scores": {k: round(v, 4) for k, v in hit.scores.items()},
    }  # fmt: skip


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def validity_notes(clauses: list[dict[str, Any]], today: date, hotline_name: str) -> list[str]:
    """One line per cited document with a validity period: expired, not yet in force, or in force until."""
    notes: list[str] = []
    first: dict[str, dict[str, Any]] = {}
    for c in clauses:
        first.setdefault(str(c.get("title", "")), c)
    for title, clause in first.items():
        start, end = _day(clause.get("effective_date")), _day(clause.get("expiry_date"))
        if end is not None and end < today:
            notes.append(
                prompts.EXPIRED_NOTE.format(title=title, end=_cn_day(end), hotline_name=hotline_name)
            )
        elif start is not None and start > today:
            notes.append(prompts.NOT_YET_NOTE.format(title=title, start=_cn_day(start)))
        elif end is not None:
            notes.append(prompts.IN_FORCE_NOTE.format(title=title, end=_cn_day(end)))
    return notes


def _cn_day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _citation_card(clause: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "point_id", "title", "label", "text", "source", "doc_id", "doc_number", "start", "end",
        "effective_date", "expiry_date",
    )  # fmt: skip
    card = {key: clause.get(key) for key in keys}
    card["citation"] = f"〔{clause['title']} {clause['label']}〕".replace(" 〕", "〕")
    return card


async def judge_probability(llm: LLMClient, query: str, clauses: Sequence[dict[str, Any]]) -> float:
    """P(是): the model's reading of whether the best clauses state what is asked (``LLMError`` passes up)."""
    messages = [
        {"role": "system", "content": prompts.JUDGE_SYSTEM},
        {"role": "user", "content": prompts.judge_user(query, clauses)},
    ]
    probs = await llm.choose(messages, prompts.JUDGE_CHOICES)
    return round(probs[prompts.JUDGE_CHOICES[0]], 4)


class ResidentNodes:
    """The nodes, bound to their dependencies."""

    def __init__(self, deps: ResidentDeps) -> None:
        self.deps = deps
        self.texts = prompts.for_city(deps.city)  # the city's names in every prompt and fixed reply

    # -- routing ---------------------------------------------------------------------------------
    async def screen(self, state: ResidentState) -> ResidentState:
        """Read the message: an emergency first, then the route (a pending report takes the reply).

        The runner hands the message in masked; it is masked again here, so a caller that did not
        still leaves no raw number in the state the next steps write.
        """
        text = mask_pii(state["text"])
        reading = intents.read(text)
        turn: ResidentState = {
            "text": text,
            "route": reading.route, "notice": "", "query": "", "clauses": [], "reply": "", "citations": [],
            "ticket": "", "prompt_ids": [], "tool_calls": [], "model": "", "model_ms": 0.0, "error": "",
            "facts": {}, "gate": {}, "validity": [], "model_answer": "",
        }  # fmt: skip
        pending = state.get("subsidy_pending")
        if pending and reading.route not in ("abuse", "privacy") and not reading.emergency:
            facts = intents.facts_in(text, pending["missing"])
            if facts:
                turn["route"], turn["facts"] = "subsidy", facts
        if reading.emergency:
            notice = prompts.emergency_notice(reading.services, reading.kinds)
            turn["notice"], turn["prompt_ids"] = notice, [prompts.EMERGENCY_ID]
            get_stream_writer()({"notice": notice})
        draft = state.get("draft")
        if (
            draft
            and reading.route not in ("abuse", "privacy")
            and (reading.emergency or drafts.answers_draft(draft, text, self.deps.gazetteer))
        ):
            turn["route"] = "report"
            if reading.emergency:
                draft["emergency"] = True
                turn["draft"] = draft
        return turn

    @staticmethod
    def branch(state: ResidentState) -> Literal["retrieve", "report", "status", "fixed", "match"]:
        """Where the route leads (a subsidy question with a credit code goes to the matcher)."""
        route = state["route"]
        if route == "subsidy" and (intents.credit_code_in(state["text"]) or state.get("facts")):
            return "match"
        if route in ("question", "subsidy"):
            return "retrieve"
        if route == "report":
            return "report"
        if route == "followup":
            return "status"
        return "fixed"

    # -- questions -------------------------------------------------------------------------------
    async def retrieve(self, state: ResidentState) -> ResidentState:
        """Make the question standalone, search, and keep the passages that are evidence."""
        query, rewrite = await self._standalone(state)
        flt = SearchFilter(category=self.deps.enterprise_category) if state["route"] == "subsidy" else None
        retriever = self.deps.retriever()
        hits = await retriever.search(query, k=self.deps.k, flt=flt)
        gate = self.gate_reading(query, hits)
        if flt is not None and gate["zone"] == "refuse":
            hits = await retriever.search(query, k=self.deps.k)
            gate = self.gate_reading(query, hits)
        if gate["p"] is None:  # the cut-offs decided: each passage is evidence or not
            clauses = [as_clause(h) for h in hits if self._relevant(h)]
        else:
            clauses = [] if gate["zone"] == "refuse" else [as_clause(h) for h in hits]
        calls = [*state.get("tool_calls", []), {"tool": "gate", "zone": gate["zone"], "p": gate["p"]}]
        # the gate's answer zone lies above every unanswerable question it was fitted on: no judge there
        asked = clauses and gate["zone"] != "answer"
        judged = await self._judge(query, clauses, {**state, **rewrite}) if asked else {}
        if "judge" in judged:
            verdict = judged["judge"]
            gate = {**gate, "zone": verdict["zone"], "judge": verdict["p"]}
            clauses = clauses if verdict["zone"] == "answer" else []
            calls.append({"tool": "judge", **verdict})
        if judged.pop("busy", False):  # the queue gave up on the judge: the answer would wait again
            gate = {**gate, "model_busy": True}
        update: ResidentState = {"query": query, "clauses": clauses, "gate": gate, "tool_calls": calls}
        update.update(rewrite)
        if "prompt_ids" in judged:
            update["prompt_ids"], update["model_ms"] = judged["prompt_ids"], judged["model_ms"]
        return update

    async def _judge(self, query: str, clauses: list[dict[str, Any]], state: ResidentState) -> dict[str, Any]:
        """The model's reading of whether the clauses state what is asked: answer at ``judge_min`` or above.

        It decides where a model is asked at all (``judge_min`` set, a model there): a 是 overrules the
        answer's "资料未涉及" (the clauses are shown), a 否 refuses before anything is written. A judge
        that fails leaves the retrieval gate's decision in place.
        """
        llm = self.deps.llm()
        if self.deps.judge_min is None or not llm.available:
            return {}
        started = time.perf_counter()
        prompt_ids = [*state.get("prompt_ids", []), prompts.JUDGE_ID]
        try:
            p = await judge_probability(llm, query, clauses)
        except LLMError as exc:
            logger.warning("the judge did not answer, the gate decides: %s", exc)
            spent = {"prompt_ids": prompt_ids, "model_ms": state.get("model_ms", 0.0) + _ms(started)}
            return {**spent, "busy": isinstance(exc, LLMBusyError)}
        zone = "answer" if p >= self.deps.judge_min else "refuse"
        return {
            "prompt_ids": prompt_ids,
            "model_ms": state.get("model_ms", 0.0) + _ms(started),
            "judge": {"p": p, "zone": zone},
        }

    def gate_reading(self, query: str, hits: list[Hit]) -> dict[str, Any]:
        """The gate's reading of the passages: probability, zone and the features it read."""
        feats = gate_features(query, hits)
        model = self.deps.gate
        if hits and not any("dense" in h.scores for h in hits):
            model = None  # the dense path is down or not built: the gate was fitted on both paths' scores
        if model is None:  # the fixed cut-offs: evidence or nothing
            zone = "ask" if any(self._relevant(h) for h in hits) else "refuse"
            return {"p": None, "zone": zone, "features": feats}
        p = model.probability(feats)
        return {
            "p": round(p, 4),
            "zone": model.zone(p),
            "features": {k: round(v, 4) for k, v in feats.items()},
        }

    def _relevant(self, hit: Hit) -> bool:
        dense, bm25 = hit.scores.get("dense"), hit.scores.get("bm25")
        return (dense is not None and dense >= self.deps.min_dense_score) or (
            bm25 is not None and bm25 >= self.deps.min_bm25_score
        )

    async def _standalone(self, state: ResidentState) -> tuple[str, ResidentState]:
        """The question on its own; a follow-up ("那外地户口呢？") is rewritten with the earlier ones."""
        text = state["text"]
        earlier = [
            m["content"] for m in state.get("messages", [])
            if m.get("role") == "user" and m.get("route") in ("question", "subsidy")
        ]  # fmt: skip
        if not earlier or not (len(text) <= 8 or _FOLLOW_UP.search(text)):
            return text, {}
        llm = self.deps.llm()
        fallback = f"{earlier[-1]} {text}"
        if not llm.available:
            return fallback, {}
        started = time.perf_counter()
        try:
            result = await llm.chat(
                [
                    {"role": "system", "content": prompts.REWRITE_SYSTEM},
                    {"role": "user", "content": prompts.rewrite_user(earlier, text)},
                ],
                temperature=0.0,
                max_tokens=60,
            )
        except LLMError as exc:
            logger.warning("rewrite failed, using the concatenation: %s", exc)
            return fallback, {"model_ms": state.get("model_ms", 0.0) + _ms(started)}
        rewritten = result.content.strip().splitlines()[0].strip() if result.content.strip() else ""
        query = rewritten if 4 <= len(rewritten) <= 120 else fallback
        return query, {
            "prompt_ids": [*state.get("prompt_ids", []), prompts.REWRITE_ID],
            "model": result.model or llm.describe,
            "model_ms": state.get("model_ms", 0.0) + _ms(started),
        }

    async def answer(self, state: ResidentState) -> ResidentState:
        """Answer from the clauses only (streamed, verified); else "not covered", or verbatim (no model).

        A question that names a problem ("路灯坏了归哪个部门管") ends with the offer to file it.
        """
        update = await self._answer(state)
        if state["route"] == "question" and intents.names_a_problem(state["text"]):
            get_stream_writer()({"token": "\n" + prompts.REPORT_OFFER})
            update["reply"] = f"{update.get('reply', '')}\n{prompts.REPORT_OFFER}"
        return update

    async def _answer(self, state: ResidentState) -> ResidentState:
        clauses = state.get("clauses", [])
        write = get_stream_writer()
        if not clauses:
            write({"token": self.texts.not_covered})
            return {"reply": self.texts.not_covered, "route": "out_of_scope"}
        llm = self.deps.llm()
        if not llm.available:
            return self._verbatim(clauses, write, error="")
        messages = [
            {"role": "system", "content": self.texts.answer_system},
            {"role": "user", "content": prompts.answer_user(state.get("query") or state["text"], clauses)},
        ]
        prompt_ids = [*state.get("prompt_ids", []), prompts.ANSWER_ID]
        started = time.perf_counter()
        try:
            if state.get("gate", {}).get("model_busy"):
                raise LLMBusyError("the judge's call already gave up in the model's queue")
            raw, shown = await self._stream(llm, messages, write)
        except LLMError as exc:  # down, cut off mid-stream, or queued too long: show the clauses now
            busy = isinstance(exc, LLMBusyError)
            code, message = (
                ("model_busy", prompts.MODEL_BUSY) if busy else ("model_unavailable", prompts.MODEL_DOWN)
            )
            logger.warning("answer not generated (%s): %s", code, exc)
            write({"error": {"code": code, "message": message}})
            verbatim = self._verbatim(clauses, write, error=str(exc))
            return {
                **verbatim,
                "prompt_ids": prompt_ids,
                "model_ms": state.get("model_ms", 0.0) + _ms(started),
            }
        model_ms = state.get("model_ms", 0.0) + _ms(started)
        common: ResidentState = {
            "prompt_ids": prompt_ids, "model_ms": model_ms, "model": llm.describe,
            "model_answer": mask_pii(raw),
        }  # fmt: skip
        if not raw or prompts.NOT_COVERED_MARK in raw:  # "资料未涉及" first, or after a guess of its own
            return {**common, **self._model_declined(state, write, shown=shown)}
        final = checked_reply(raw, clauses, state.get("query") or state["text"], self.deps.city.hotline)
        checked = final.checked
        if final.unsupported:
            return {**common, **self._emptied(state, checked.removed, write)}
        cited, reply = final.cited, final.reply
        if final.added:
            write({"token": "\n" + final.added})
        if state["route"] == "subsidy":
            reply += "\n" + prompts.SUBSIDY_NOTE
        notes = validity_notes(cited, self.deps.local_today(), self.deps.city.hotline_name)
        if notes:
            write({"token": "\n" + "\n".join(notes)})
            reply += "\n" + "\n".join(notes)
        return {
            **common,
            "reply": reply,
            "validity": notes,
            "citations": [_citation_card(c) for c in cited],
            "tool_calls": [*state.get("tool_calls", []), *({"guard": r} for r in checked.removed)],
        }

    def _emptied(
        self, state: ResidentState, removed: list[str], write: Callable[[Any], None]
    ) -> ResidentState:
        """Nothing the clauses support is left of the answer (see :func:`unsupported_shows_clauses`)."""
        calls = [*state.get("tool_calls", []), *({"guard": r} for r in removed)]
        if unsupported_shows_clauses(state.get("gate", {}), removed):
            write(
                {
                    "error": {
                        "code": "answer_unsupported",
                        "message": "回答未能通过文件核对，改为展示条款原文。",
                    }
                }
            )
            clauses = state.get("clauses", [])
            verbatim = self._verbatim(
                clauses, write, error="answer not supported by the clauses", lead=prompts.CLAUSES_LEAD
            )
            return {**verbatim, "tool_calls": calls}
        write({"error": {"code": "answer_unsupported", "message": "回答未能通过文件核对。"}})
        write({"token": self.texts.not_covered})
        return {"reply": self.texts.not_covered, "route": "out_of_scope", "tool_calls": calls}

    def _model_declined(
        self, state: ResidentState, write: Callable[[Any], None], *, shown: bool
    ) -> ResidentState:
        """The model said the clauses do not answer: a refusal, unless the gate is sure they do."""
        if state.get("gate", {}).get("zone") == "answer" and not shown:
            # the gate is confident the clauses answer: the resident gets them, not a refusal
            verbatim = self._verbatim(state.get("clauses", []), write, error="", lead=prompts.CLAUSES_LEAD)
            overruled = {"guard": "model said not covered; the gate's confident clauses shown"}
            return {**verbatim, "tool_calls": [*state.get("tool_calls", []), overruled]}
        if not shown:
            write({"token": self.texts.not_covered})
        return {"reply": self.texts.not_covered, "route": "out_of_scope"}

    async def _stream(
        self, llm: LLMClient, messages: list[dict[str, str]], write: Callable[[Any], None]
    ) -> tuple[str, bool]:
        """The model's answer, streamed as it comes; held back until it is clearly not "资料未涉及".

        Returns the whole text and whether any of it was shown.
        """
        parts: list[str] = []
        held = True
        async for token in llm.stream(messages, temperature=0.1, max_tokens=self.deps.answer_max_tokens):
            parts.append(token)
            if held and len("".join(parts).strip()) >= _HOLD:
                if "".join(parts).strip().startswith(prompts.NOT_COVERED_MARK):
                    break
                held = False
                write({"token": "".join(parts)})
            elif not held:
                write({"token": token})
        return "".join(parts).strip(), not held

    def _verbatim(
        self,
        clauses: list[dict[str, Any]],
        write: Callable[[Any], None],
        *,
        error: str,
        lead: str = prompts.DEGRADED_LEAD,
    ) -> ResidentState:
        """Degraded mode: the best clauses word for word, each with its citation (and its validity)."""
        shown = clauses[:2]
        body = "\n\n".join(f"{_citation_card(c)['citation']}\n{c['text']}" for c in shown)
        notes = validity_notes(shown, self.deps.local_today(), self.deps.city.hotline_name)
        reply = "\n\n".join([lead, body, *(["\n".join(notes)] if notes else [])])
        write({"token": reply})
        cards = [_citation_card(c) for c in shown]
        return {"reply": reply, "citations": cards, "error": error, "validity": notes}

    # -- reports ---------------------------------------------------------------------------------
    async def report(self, state: ResidentState) -> ResidentState:
        """Collect what, where and when; confirm; file the order (kept in the thread if the store is down)."""
        text, thread = state["text"], state.get("thread", "")
        draft = state.get("draft")
        if not draft:
            draft = drafts.start(text, emergency=bool(state.get("notice")), gazetteer=self.deps.gazetteer)
            outcome: drafts.Outcome = "ask"
        else:
            draft = dict(draft)  # type: ignore[assignment]
            outcome = drafts.answer(draft, text, self.deps.gazetteer)
        if outcome == "cancel":
            return self._say(prompts.CANCELLED, draft=None)
        if outcome == "ask":
            asking = draft["asking"]
            question = (
                prompts.confirm(dict(draft))
                if asking == "confirm"
                else prompts.ASK.get(asking, self.texts.store_down)
            )
            return self._say(question, draft=draft)
        return await self._file(draft, thread, state)

    async def _file(self, draft: drafts.Draft, thread: str, state: ResidentState) -> ResidentState:
        contacts = self.deps.contacts
        raw = None
        if draft.get("phone") and contacts is not None:
            raw = await asyncio.to_thread(contacts.get, thread)
        new = drafts.work_order(draft, thread, raw)
        call: dict[str, Any] = {
            "tool": "work_orders.create",
            "client_key": new.client_key,
            "urgency": new.urgency.value,
        }
        try:
            with telemetry.tool_span(call["tool"], {"cityagent.urgency": call["urgency"]}) as tool:
                order, created = await asyncio.to_thread(self.deps.store.create, new, "resident-assistant")
                telemetry.annotate(tool, {"cityagent.ticket": order.ticket, "cityagent.created": created})
        except (SQLAlchemyError, DatabaseError, OSError) as exc:
            logger.error("work order store unavailable, draft kept in thread %s: %s", thread, exc)
            draft["asking"] = "retry"
            call["error"] = type(exc).__name__
            return {
                **self._say(self.texts.store_down, draft=draft),
                "tool_calls": [call],
                "error": str(exc)[:300],
            }
        call.update(ticket=order.ticket, created=created, contact=bool(new.contact_phone))
        if contacts is not None:
            try:  # the number is in the order now: it has no other place to be
                await asyncio.to_thread(contacts.clear, thread)
            except (SQLAlchemyError, DatabaseError, OSError) as exc:
                logger.warning("held call-back number of %s not dropped yet: %s", thread, type(exc).__name__)
        due = f"{self.deps.city.rules.local(order.close_due):%Y-%m-%d}" if order.close_due else ""
        tickets = [*state.get("tickets", []), order.ticket]
        return {
            **self._say(prompts.filed(order.ticket, order.state.value, due), draft=None),
            "ticket": order.ticket,
            "tickets": list(dict.fromkeys(tickets)),
            "tool_calls": [call],
        }

    @staticmethod
    def _say(reply: str, **extra: Any) -> ResidentState:
        get_stream_writer()({"token": reply})
        return {"reply": reply, **extra}  # type: ignore[typeddict-item]

    # -- subsidies -------------------------------------------------------------------------------
    async def match(self, state: ResidentState) -> ResidentState:
        """Run the 免申即享 matcher for the enterprise named by its credit code and say what it decided.

        The reply is built from the matcher's decisions only (no model), so it can never state an
        eligibility the matcher did not compute; the enterprise's own figures are not shown in chat.
        """
        pending = state.get("subsidy_pending") or {}
        code = intents.credit_code_in(state["text"]) or str(pending.get("code", ""))
        same = code == pending.get("code")
        # facts answering an earlier question about this enterprise add up over the conversation
        facts = {**pending.get("stated", {}), **(state.get("facts") or {})} if same else {}
        # Non-public facts of an enterprise only for that enterprise signed in, or for staff.
        viewer = state.get("viewer") or {}
        shared = code in viewer.get("speaks_for", ()) or bool(viewer.get("staff"))
        call: dict[str, Any] = {
            "tool": "subsidies.explain", "credit_code": code, "stated": sorted(facts), "shared_data": shared,
        }  # fmt: skip
        if self.deps.subsidies is None:
            return {**self._say(self.texts.subsidies_off), "tool_calls": [{**call, "error": "no matcher"}]}
        try:
            with telemetry.tool_span(call["tool"], {"cityagent.shared_data": shared}) as tool:
                decisions = await asyncio.to_thread(self.deps.subsidies, code, facts, shared_data=shared)
                telemetry.annotate(tool, {"cityagent.decisions": sorted({d.decision for d in decisions})})
        except KeyError:
            return {
                **self._say(self.texts.unknown_enterprise(code)),
                "tool_calls": [{**call, "error": "unknown"}],
            }
        except ValueError as exc:  # a stated value that does not fit its field
            return {**self._say(prompts.bad_fact(str(exc))), "tool_calls": [{**call, "error": str(exc)}]}
        reply = (
            prompts.subsidy_decisions(decisions, stated=facts)
            if shared
            else prompts.subsidy_declared(decisions, stated=facts)
        )
        missing = {f for d in decisions if d.decision == "missing_data" for f in d.missing_fields}
        asked = sorted(missing | (set(pending.get("missing", [])) if same else set()))
        cards = [
            {"citation": c.citation, "title": d.document, "label": c.citation.split(" ")[-1].rstrip("〕"),
             "text": c.quote, "source": "", "doc_id": "", "doc_number": "", "point_id": f"{d.policy}:{c.id}"}
            for d in decisions for c in d.conditions[:1]
        ]  # fmt: skip
        call["decisions"] = {d.policy: d.decision for d in decisions}
        return {
            **self._say(reply), "citations": cards, "tool_calls": [call],
            "subsidy_pending": {"code": code, "missing": asked, "stated": facts} if asked else None,
        }  # fmt: skip

    # -- follow-ups and fixed replies ------------------------------------------------------------
    async def status(self, state: ResidentState) -> ResidentState:
        """The state of this conversation's own orders, in words; anyone else's is refused.

        Without a ticket number the conversation's own orders are looked up (the one the question
        is about when it names its matter, else each of them, newest first); the store is asked only
        for tickets this conversation filed, so no other resident's order can be shown.
        """
        mine = state.get("tickets", [])
        asked = intents.ticket_in(state["text"])
        if asked is None and not mine:
            return self._say(self.texts.no_tickets)
        if asked is not None and asked not in mine:
            return {**self._say(self.texts.not_yours), "route": "privacy"}
        calls: list[dict[str, Any]] = []
        try:
            with telemetry.tool_span("work_orders.get"):
                orders = [
                    await asyncio.to_thread(self.deps.store.get, t) for t in ([asked] if asked else mine)
                ]
            if asked is None:
                orders = _about(orders, state["text"])[:_STATUS_MAX]
            replies = []
            for order in orders:
                events = await asyncio.to_thread(self.deps.store.events, order.ticket)
                replies.append(self._status_line(order, events[-1] if events else None))
                calls.append({"tool": "work_orders.get", "ticket": order.ticket, "state": order.state.value})
        except OrderNotFoundError:
            failed = {"tool": "work_orders.get", "error": "not found"}
            return {**self._say(self.texts.no_tickets), "tool_calls": [*calls, failed]}
        except (SQLAlchemyError, DatabaseError, WorkOrderError, OSError) as exc:
            failed = {"tool": "work_orders.get", "error": type(exc).__name__}
            return {**self._say(self.texts.status_down), "tool_calls": [*calls, failed]}
        reply = "\n".join(replies)
        return {
            **self._say(reply),
            "ticket": orders[0].ticket,
            "prompt_ids": [*state.get("prompt_ids", []), prompts.STATUS_ID],
            "tool_calls": calls,
        }

    def _status_line(self, order: WorkOrder, last: Event | None) -> str:
        local = self.deps.city.rules.local
        due = f"{local(order.close_due):%Y-%m-%d}" if order.close_due else ""
        event = None
        if last is not None:
            event = (f"{local(last.at):%m-%d %H:%M}", last.to_state.value, mask_pii(last.reason.strip())[:80])
        return prompts.status(
            order.ticket, order.state.value, order.department, due, last=event, title=order.title,
            words=self.texts.state_words,
        )  # fmt: skip

    async def fixed(self, state: ResidentState) -> ResidentState:
        """Greetings, abuse and requests for other people's data get their fixed replies."""
        reply = {"abuse": self.texts.abuse, "privacy": self.texts.privacy}.get(
            state["route"], self.texts.greeting
        )
        return self._say(reply)

    async def finish(self, state: ResidentState) -> ResidentState:
        """Add the turn to the conversation (masked) and drop the raw message from the state."""
        reply = state.get("reply", "")
        if state.get("draft") and state["route"] != "report":
            reply += "\n" + prompts.DRAFT_WAITING
        user: ChatMessage = {"role": "user", "content": mask_pii(state["text"]), "route": state["route"]}
        assistant: ChatMessage = {"role": "assistant", "content": reply, "route": state["route"]}
        for key in ("citations", "ticket", "notice"):
            if state.get(key):
                assistant[key] = state[key]
        return {"messages": [user, assistant], "text": mask_pii(state["text"]), "reply": reply}


_STATUS_MAX = 3  # orders shown at once when the question names no ticket


def _about(orders: list[WorkOrder], question: str) -> list[WorkOrder]:
    """The orders the question is about (sharing a two-character word with its title or text), newest first.

    When it names none of them (我的工单怎么样了), all of them.
    """
    pairs = {question[i : i + 2] for i in range(len(question) - 1)}
    words = {w for w in pairs if re.fullmatch(r"[\u4e00-\u9fa5]{2}", w) and not set(w) & _STATUS_FILLER}
    newest = list(reversed(orders))
    named = [o for o in newest if any(w in o.title or w in o.text for w in words)]
    return named or newest


# characters of status questions that name no matter (我刚才反映的问题现在处理到哪一步了)
_STATUS_FILLER = set("我你的了吗呢啊呀刚才现在到哪一步怎么样处理办反映报修投诉提交")
_STATUS_FILLER |= set("问题工单进度之前上次说过情况结果")


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
