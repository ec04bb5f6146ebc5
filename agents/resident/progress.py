"""What a resident waiting for an answer is told while the turn runs (the stream's ``progress`` events).

The events are read from the graph's own stream, not written by the nodes: a step's start (LangGraph's
``tasks`` stream) and the retrieve step's state update (``updates``). So the steps stay as they are and
the resident still sees, within a fraction of a second of sending, that something is happening::

    looking   正在查找相关政策…                       (the retrieve step starts)
    found     找到 3 条相关条款，来自《…》《…》        (its update: how many clauses, from which documents)
    writing   正在根据条款撰写回答…                   (the answer step starts with clauses to write from)
    checking  正在查询您的工单… / 正在核对政策条件…    (the status or subsidy-matcher step starts)

Each event is ``{"stage", "text", "clauses", "documents"}``; a client shows them until the answer's first
words arrive, which replace them.
"""

from __future__ import annotations

from typing import Any

LOOKING = "正在查找相关政策…"
WRITING = "正在根据条款撰写回答…"
NOTHING_FOUND = "没有找到直接相关的条款"
CHECKING = {"status": "正在查询您的工单…", "match": "正在核对政策条件…"}
_NAMED = 3  # documents named in the "found" line; more are counted


def _event(stage: str, text: str, clauses: int = 0, documents: list[str] | None = None) -> dict[str, Any]:
    return {"stage": stage, "text": text, "clauses": clauses, "documents": documents or []}


def documents(clauses: list[dict[str, Any]]) -> list[str]:
    """The titles of the documents the clauses come from, in the order found, each once."""
    titles = (str(c.get("title") or "").strip().strip("《》") for c in clauses)
    return list(dict.fromkeys(t for t in titles if t))


def found(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``found`` event for the clauses retrieval kept (none: nothing relevant was found)."""
    if not clauses:
        return _event("found", NOTHING_FOUND)
    titles = documents(clauses)
    named = "".join(f"《{t}》" for t in titles[:_NAMED])
    more = f"等 {len(titles)} 份文件" if len(titles) > _NAMED else ""
    source = f"，来自{named}{more}" if named else ""
    return _event("found", f"找到 {len(clauses)} 条相关条款{source}", len(clauses), titles)


def from_task(task: Any) -> dict[str, Any] | None:
    """The event for a step that starts (a ``tasks`` stream item with its ``input``), if it has one."""
    if not isinstance(task, dict) or "input" not in task:  # a task's result, not its start
        return None
    name, state = task.get("name"), task.get("input")
    if name == "retrieve":
        return _event("looking", LOOKING)
    if name == "answer" and isinstance(state, dict) and state.get("clauses"):
        count = len(state["clauses"])
        return _event("writing", WRITING, count, documents(state["clauses"]))
    if name in CHECKING:
        return _event("checking", CHECKING[name])
    return None


def from_update(update: Any) -> dict[str, Any] | None:
    """The event for a step's state update (``updates`` stream item): the retrieve step's clauses."""
    step = update.get("retrieve") if isinstance(update, dict) else None
    if not isinstance(step, dict):
        return None
    return found(list(step.get("clauses") or []))
