"""``cityagent audit export``: the audit trail of agent turns."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from service.cli._common import fail, migrated_database

audit_app = typer.Typer(help="The audit trail of agent turns (personal data masked).", no_args_is_help=True)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="File to write (.jsonl or .csv).")],
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD), inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this day (YYYY-MM-DD), exclusive.")] = None,
    thread: Annotated[str | None, typer.Option(help="One conversation only.")] = None,
    route: Annotated[str | None, typer.Option(help="One route only (question, report, privacy, …).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many turns (newest first).")] = 100_000,
) -> None:
    """Export agent turns for an accountability review: route, prompts, chunks, tool calls, model, latency."""
    import csv
    from datetime import UTC, datetime

    from tools.audit import AuditLog

    def day(value: str | None, name: str) -> datetime | None:
        if value is None:
            return None
        try:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise fail(f"--{name} {value!r}: expected YYYY-MM-DD") from None

    if out.suffix not in (".jsonl", ".csv"):
        raise fail(f"--out {out}: the file must end in .jsonl or .csv")
    engine = migrated_database()
    rows = [
        dataclasses.asdict(r)
        for r in AuditLog(engine).records(
            thread=thread, limit=limit, since=day(since, "since"), until=day(until, "until"), route=route
        )
    ]
    with out.open("w", encoding="utf-8", newline="") as f:
        if out.suffix == ".jsonl":
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        else:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["thread"])
            writer.writeheader()
            for row in rows:
                writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v
                                 for k, v in row.items()})  # fmt: skip
    typer.echo(f"exported {len(rows)} turns to {out}")
