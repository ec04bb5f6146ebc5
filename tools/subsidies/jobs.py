"""Match runs as jobs: every enterprise × the chosen policies, in the background, with progress.

A job is a row in ``subsidy_match_jobs`` (so its state outlives the process) and a folder of
push lists, one CSV per policy, written whole and then renamed into place. Progress is counted
per policy. A job whose process stopped while it was queued or running is marked
``interrupted`` at the next start (see :meth:`MatchJobs.recover`), with the policies it had finished kept.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from tools.subsidies.matcher import Matcher
from tools.subsidies.rules import PolicyRule

logger = logging.getLogger(__name__)
metadata = MetaData()

match_jobs = Table(
    "subsidy_match_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # queued, running, done, failed, interrupted
    Column("as_of", Date, nullable=False),
    Column("rule_ids", Text, nullable=False),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("enterprises", Integer, nullable=True),
    Column("counts", Text, nullable=False),
    Column("error", Text, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("runner", String(128), nullable=False),  # host:pid of the process that runs it
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),  # the last sign of life
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

UNFINISHED = ("queued", "running")
STALE_AFTER = timedelta(minutes=30)  # a job without progress this long is dead, wherever it ran


def _runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return pid != os.getpid()  # our own pid at start-up was reused: the old owner is gone


class MatchJobs:
    """Create, run, read and recover match jobs; push lists under ``folder/<job id>/``."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self._engine = engine
        self.folder = folder

    def create(self, rules: Sequence[PolicyRule], as_of: date, user: str) -> dict[str, Any]:
        """Register a queued job for ``rules``; the job as :meth:`get` shows it."""
        job_id = uuid.uuid4().hex
        with self._engine.begin() as conn:
            conn.execute(
                insert(match_jobs).values(
                    id=job_id, status="queued", as_of=as_of, rule_ids=json.dumps([r.id for r in rules]),
                    total=len(rules), done=0, counts="{}", created_by=user, runner=_runner(),
                    created_at=datetime.now(UTC), updated_at=datetime.now(UTC),
                )
            )  # fmt: skip
        job = self.get(job_id)
        assert job is not None
        return job

    def _set(self, job_id: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(match_jobs)
                .where(match_jobs.c.id == job_id)
                .values(**values, updated_at=datetime.now(UTC))
            )

    def run(self, job_id: str, matcher: Matcher, rules: Sequence[PolicyRule], as_of: date) -> None:
        """Match every enterprise against each rule in turn; progress and counts after each policy."""
        started = time.perf_counter()
        out = self.folder / job_id
        out.mkdir(parents=True, exist_ok=True)
        self._set(job_id, status="running", started_at=datetime.now(UTC), enterprises=matcher.size())
        counts: dict[str, dict[str, int]] = {}
        try:
            for done, rule in enumerate(rules, start=1):
                counts[rule.id] = matcher.counts(rule, as_of)
                text, _ = matcher.push_list_csv(rule, as_of)
                partial = out / f"{rule.id}.csv.part"
                partial.write_text("\ufeff" + text, encoding="utf-8", newline="")
                partial.replace(out / f"{rule.id}.csv")
                self._set(job_id, done=done, counts=json.dumps(counts))
        except Exception as exc:  # the job records what went wrong; the service keeps running
            logger.exception("match job %s failed", job_id)
            self._set(
                job_id, status="failed", error=f"{type(exc).__name__}: {exc}", finished_at=datetime.now(UTC)
            )
            return
        self._set(job_id, status="done", finished_at=datetime.now(UTC))
        logger.info("match job %s: %d policies in %.1f s", job_id, len(rules), time.perf_counter() - started)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job: status, progress (``done`` of ``total`` policies), counts per policy, timing."""
        with self._engine.connect() as conn:
            row = conn.execute(select(match_jobs).where(match_jobs.c.id == job_id)).first()
        return None if row is None else self._view(row)

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest jobs, newest first."""
        query = select(match_jobs).order_by(match_jobs.c.created_at.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [self._view(r) for r in conn.execute(query).all()]

    @staticmethod
    def _view(row: Any) -> dict[str, Any]:
        seconds = None
        if row.started_at and row.finished_at:
            seconds = round((row.finished_at - row.started_at).total_seconds(), 3)
        return {
            "job_id": row.id, "status": row.status, "as_of": row.as_of.isoformat(),
            "rule_ids": json.loads(row.rule_ids), "progress": {"done": row.done, "total": row.total},
            "enterprises": row.enterprises, "counts": json.loads(row.counts), "error": row.error,
            "created_by": row.created_by, "created_at": row.created_at, "seconds": seconds,
        }  # fmt: skip

    def recover(self, now: datetime | None = None) -> int:
        """Mark jobs whose process is gone ``interrupted``; how many.

        Gone: a process of this host that no longer runs, or no progress for ``STALE_AFTER`` (a
        host that vanished). Jobs of live processes, here or on other machines, are left alone, so
        one worker starting does not cut off another worker's job.
        """
        now = now or datetime.now(UTC)
        host = socket.gethostname()
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(match_jobs.c.id, match_jobs.c.runner, match_jobs.c.updated_at).where(
                    match_jobs.c.status.in_(UNFINISHED)
                )
            ).all()
            dead = []
            for job_id, runner, updated in rows:
                runner_host, _, pid = str(runner).rpartition(":")
                seen = updated if updated.tzinfo else updated.replace(tzinfo=UTC)  # SQLite drops the zone
                if (
                    runner_host == host and pid.isdigit() and not _alive(int(pid))
                ) or now - seen > STALE_AFTER:
                    dead.append(job_id)
            if dead:
                conn.execute(
                    update(match_jobs)
                    .where(match_jobs.c.id.in_(dead))
                    .values(
                        status="interrupted", finished_at=now, updated_at=now,
                        error="the process running the job stopped before it finished; start it again",
                    )
                )  # fmt: skip
        return len(dead)

    def push_list(self, job_id: str, rule_id: str) -> Path | None:
        """The push-list CSV a job wrote for ``rule_id``, if it got that far."""
        job = self.get(job_id)
        if job is None or rule_id not in job["counts"]:
            return None
        path = self.folder / job_id / f"{rule_id}.csv"
        return path if path.is_file() else None
