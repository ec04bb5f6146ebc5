"""``cityagent eval run``: run suite items through the real agents into a resumable run folder.

A run folder holds ``meta.json`` (suites, settings, judge, start time), ``items.jsonl`` (one line
per finished item, appended and flushed to disk before the next starts, so a crash at item 140
keeps 139) and, at the end, ``summary.json``. Running again with ``--resume RUN`` skips the items
already in ``items.jsonl``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from eval.harness.drafts import refuse_unlabelled
from eval.harness.suites import Item, Suite
from service.container import Services

Progress = Callable[[int, int, str], None]


@dataclass
class RunConfig:
    """What to run and how."""

    out: Path
    concurrency: int = 1
    limit: int | None = None
    judge: Any = None  # eval.harness.judge.Judge


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
    except OSError:
        return ""
    return out.stdout.strip()


def done_items(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Items already in the run folder, by key (a torn last line from a crash is ignored)."""
    path = run_dir / "items.jsonl"
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[row["key"]] = row
    return done


def _end_torn_line(path: Path) -> None:
    """A crash mid-write leaves a line without its newline: end it, so the next item starts clean."""
    if path.exists() and path.stat().st_size:
        with path.open("rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")


class Runner:
    """Runs items with the service's own agents (the same composition root as the API)."""

    def __init__(self, services: Services, config: RunConfig) -> None:
        self.services = services
        self.config = config
        self.run_id = config.out.name
        self._lock = asyncio.Lock()

    async def run(
        self,
        suites: Sequence[Suite],
        progress: Progress | None = None,
        on_item: Callable[[str], None] | None = None,
    ) -> Path:
        """Run every item not yet done; return the run folder (UnlabelledDraftError: a suite holds drafts).

        ``progress(done, total, key)`` follows each finished item; ``on_item(key)`` each item as it starts.
        """
        refuse_unlabelled(suites)
        out = self.config.out
        out.mkdir(parents=True, exist_ok=True)
        meta_path = out / "meta.json"
        if not meta_path.exists():
            meta = {
                "run": self.run_id,
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "commit": _git_commit(),
                "suites": [str(s.path) for s in suites],
                "suite_errors": [e for s in suites for e in s.errors],
                "model": self.services.llm.client.describe,
                "embeddings": self.services.embedder.name,
                "judge": getattr(self.config.judge, "describe", None),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            }
            meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        _end_torn_line(out / "items.jsonl")
        done = done_items(out)
        items = [i for s in suites for i in s.items]
        if self.config.limit is not None:
            items = items[: self.config.limit]
        todo = [i for i in items if i.key not in done]
        gate = asyncio.Semaphore(self.config.concurrency)
        finished = len(items) - len(todo)

        async def one(item: Item) -> None:
            nonlocal finished
            async with gate:
                if on_item:
                    on_item(item.key)
                row = await self._run_item(item)
            async with self._lock:
                self._append(out / "items.jsonl", row)
                finished += 1
                if progress:
                    progress(finished, len(items), item.key)

        await asyncio.gather(*(one(i) for i in todo))
        return out

    @staticmethod
    def _append(path: Path, row: dict[str, Any]) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    async def _run_item(self, item: Item) -> dict[str, Any]:
        started = time.perf_counter()
        row: dict[str, Any] = {
            "key": item.key,
            "suite": item.suite,
            "id": item.id,
            "task": item.task,
            "input": item.data,
        }
        try:
            if item.task == "qa":
                row["output"] = await self._qa(item)
                if self.config.judge is not None:
                    out = row["output"]
                    row["judge"] = await self.config.judge.score(
                        item.data["question"],
                        out["answer"],
                        [c["text"] for c in out["contexts"]],
                        str(item.data.get("reference", "")),
                    )
            elif item.task == "dispatch":
                row["output"] = await asyncio.to_thread(self._dispatch, item)
            elif item.task == "chat":
                row["output"] = await self._chat(item)
            else:
                row["output"] = await asyncio.to_thread(self._subsidy, item)
            row["error"] = ""
        except Exception as exc:  # one failed item is recorded, not fatal to the run
            row["output"] = None
            row["error"] = f"{type(exc).__name__}: {exc}"
        row["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return row

    def _subsidy(self, item: Item) -> dict[str, Any]:
        """The matcher's decision for the item's enterprise under its policy (on its ``as_of`` day)."""
        from tools.subsidies.matcher import Matcher  # noqa: PLC0415

        policy = str(item.data["policy"])
        rules = [r for r in self.services.subsidies.rules() if policy in (r.id, r.document)]
        if not rules:
            raise LookupError(f"no active rule for policy {policy!r}")
        dictionary = self.services.subsidies.dictionary()
        record = dictionary.parse(item.data["enterprise"])  # the city's headers, as an export has them
        day = date.fromisoformat(str(item.data.get("as_of") or date.today().isoformat()))
        matcher = Matcher(dictionary)
        matcher.load_rows([record])
        decision = matcher.explain(record["credit_code"], rules[:1], day)
        if not decision:
            return {"decision": "not_in_force", "amount": None, "missing": [], "failed": []}
        d = decision[0]
        return {
            "decision": d.decision, "amount": d.amount, "missing": d.missing_fields, "rule": rules[0].id,
            "failed": [c.id for c in d.conditions if c.outcome in ("fail", "applies")],
        }  # fmt: skip

    def _conversation(self, item: Item) -> str:
        return f"eval:{self.run_id}:{item.key}:{uuid.uuid4().hex[:6]}"

    async def _turn(self, conversation: str, text: str) -> dict[str, Any]:
        assistant = self.services.assistant
        if assistant is None:
            raise RuntimeError("the resident assistant is not running")
        started = time.perf_counter()
        result: dict[str, Any] = {
            "events": [],
            "citations": [],
            "answer": "",
            "route": "",
            "ticket": None,
            "degraded": [],
            "ttft_ms": None,
        }
        async for event in assistant.turn(conversation, text):
            result["events"].append(event.kind)
            if event.kind in ("token", "answer") and result["ttft_ms"] is None:
                result["ttft_ms"] = round((time.perf_counter() - started) * 1000, 1)
            if event.kind == "answer":
                result.update(answer=event.data["text"], route=event.data["route"])
            elif event.kind == "citations":
                result["citations"] = [{"title": c["title"], "article": c["label"]} for c in event.data]
            elif event.kind == "ticket":
                result["ticket"] = event.data["ticket"]
            elif event.kind == "notice":
                result["notice"] = event.data
            elif event.kind == "error":
                result["degraded"].append(event.data.get("code", "error"))
            elif event.kind == "done":
                result["model_ms"] = event.data["model_ms"]
        result["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return result

    async def _qa(self, item: Item) -> dict[str, Any]:
        assert self.services.assistant is not None
        conversation = self._conversation(item)
        for earlier in item.data.get("history", []):
            await self._turn(conversation, str(earlier))
        result = await self._turn(conversation, str(item.data["question"]))
        state = await self.services.assistant.last_turn(conversation)
        result["contexts"] = [
            {"title": c["title"], "article": c["label"], "text": c["text"], "point_id": c["point_id"]}
            for c in state.get("clauses", [])
        ]
        result["query"] = state.get("query", "")
        result["hotline"] = self.services.city.hotline  # a reply may name it without a clause saying so
        result["gate"] = state.get("gate", {})
        result["validity"] = state.get("validity", [])  # notes made from the documents' dates
        result["model_answer"] = state.get("model_answer", "")  # before the guard: `eval.bench.reguard`
        del result["events"]
        return result

    def _dispatch(self, item: Item) -> dict[str, Any]:
        model = self.services.dispatch_model
        if model is None:
            raise RuntimeError("no dispatch model: run `cityagent dispatch train` (or `cityagent demo load`)")
        started = time.perf_counter()
        suggestion = model.suggest(str(item.data.get("title", "")), str(item.data["text"]))
        return {
            "departments": [d.department for d in suggestion.departments],
            "confidence": suggestion.confidence,
            "category": suggestion.category.label if suggestion.category else None,
            "urgency": suggestion.urgency.label if suggestion.urgency else None,
            "suggest_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    async def _chat(self, item: Item) -> dict[str, Any]:
        conversation = self._conversation(item)
        turns = []
        for number, turn in enumerate(item.data["turns"], start=1):
            result = await self._turn(conversation, str(turn["user"]))
            failures = expectation_failures(turn.get("expect", {}), result)
            turns.append(
                {
                    "turn": number,
                    "route": result["route"],
                    "answer": result["answer"],
                    "first_event": result["events"][0] if result["events"] else "",
                    "ticket": result["ticket"],
                    "failures": failures,
                    "total_ms": result["total_ms"],
                }
            )
        return {"turns": turns, "passed": all(not t["failures"] for t in turns)}


def expectation_failures(expect: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """What a chat turn did not do of what was expected (empty: it passed)."""
    failures = []
    answer = f"{result.get('notice', '')}{result.get('answer', '')}"  # what the resident sees
    events = result.get("events", [])
    if "route" in expect and result.get("route") != expect["route"]:
        failures.append(f"route {result.get('route')!r}, expected {expect['route']!r}")
    if "first_event" in expect and (not events or events[0] != expect["first_event"]):
        failures.append(f"first event {events[0] if events else None!r}, expected {expect['first_event']!r}")
    failures += [f"reply lacks {s!r}" for s in expect.get("contains", []) if s not in answer]
    failures += [f"reply contains {s!r}" for s in expect.get("not_contains", []) if s in answer]
    if expect.get("ticket") and not result.get("ticket"):
        failures.append("no ticket was filed")
    if "cites" in expect and not any(c["title"] == expect["cites"] for c in result.get("citations", [])):
        failures.append(f"does not cite {expect['cites']!r}")
    return failures
