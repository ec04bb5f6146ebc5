"""``cityagent subsidy …``: 免申即享 enterprise import, rule drafts, matches, push lists, explanations."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli._common import cli_settings, fail, guarded, migrated_database, parse_date

subsidy_app = typer.Typer(
    help="免申即享: enterprise import, rules, push lists, per-enterprise explanations.", no_args_is_help=True
)


def _subsidy_matcher(rules_dir: Path | None) -> tuple[Any, list[Any]]:
    """The same matcher and rules the service uses (``--rules`` overrides the approved rules)."""
    from service.container import build_services
    from tools.db import migrate
    from tools.subsidies.rules import load_rules

    services = build_services(cli_settings())
    guarded(lambda: migrate(services.engine))
    matcher = guarded(services.subsidies.matcher)
    if not matcher.size():
        raise fail("no enterprises: import them first (cityagent demo load, or the enterprise import)")
    fields = guarded(services.subsidies.dictionary)
    rules = guarded(lambda: load_rules(rules_dir, fields)) if rules_dir else guarded(services.subsidies.rules)
    if not rules:
        raise fail(
            "no active rules: approve drafts (POST /api/subsidies/rules/…/approve) or run cityagent demo load"
        )
    return matcher, rules


RulesDir = Annotated[Path | None, typer.Option(help="Folder of rule files (default: the approved rules).")]


async def draft_with_model(document: str, rule_id: str = "drafted-policy") -> Any:
    """The model's draft of the rule of ``document`` (the embedded server runs for the call)."""
    from service.container import build_services
    from tools.subsidies.draft import draft_rule

    services = build_services(cli_settings())
    await services.llm.start()
    try:
        if not services.llm.client.available:
            raise ValueError("drafting needs a model (llm.backend); without one, write the rule by hand")
        fields = await asyncio.to_thread(services.subsidies.dictionary)
        return await draft_rule(services.llm.client, document, fields, rule_id=rule_id)
    finally:
        await services.close()


@subsidy_app.command("draft")
def subsidy_draft(
    document: Annotated[
        Path, typer.Argument(help="The policy document (as ingested into the knowledge base).")
    ],
    save: Annotated[bool, typer.Option(help="Store the draft for a policy officer to approve.")] = False,
) -> None:
    """Ask the model to draft the rule of a policy document; quotes not found in the document are flagged."""
    import yaml

    from tools.subsidies.store import RuleStore

    text = guarded(lambda: document.read_text(encoding="utf-8"))
    draft = guarded(lambda: asyncio.run(draft_with_model(text)))
    if draft.rule is None:
        raise fail(f"no valid rule drafted: {draft.error}")
    typer.echo(
        yaml.safe_dump(
            draft.rule.model_dump(mode="json", by_alias=True, exclude_none=True), allow_unicode=True
        )
    )
    for flag in draft.flagged_quotes:
        typer.secho(f"quote not in the document: {flag}", fg=typer.colors.YELLOW, err=True)
    if save:
        stored = RuleStore(migrated_database()).save_draft(draft.rule, "model-draft")
        typer.echo(
            f"saved {stored.id} v{stored.version} as a draft: a policy officer approves it before it applies"
        )


@subsidy_app.command("match")
def subsidy_match(
    rules: RulesDir = None,
    as_of: Annotated[str | None, typer.Option(help="Evaluation date (default today).")] = None,
    show_sql: Annotated[bool, typer.Option(help="Print each policy's SQL.")] = False,
    dialect: Annotated[
        str, typer.Option(help="SQL dialect for --show-sql (duckdb, postgres, spark, trino, …; via sqlglot).")
    ] = "duckdb",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write every enterprise × policy (decision, amount, failed conditions, missing fields)."
        ),
    ] = None,
) -> None:
    """Every enterprise × every active policy: how many are eligible, not eligible, missing data."""
    matcher, loaded = _subsidy_matcher(rules)
    day = parse_date(as_of) or date.today()
    if out is not None:
        active = [r for r in loaded if r.status == "active"]
        written = guarded(lambda: matcher.write_decisions(active, day, out))
        typer.echo(
            f"{out}: {written} decisions ({matcher.size()} enterprises × {len(active)} policies, {day})"
        )
    for rule in loaded:
        if rule.status != "active" or not rule.valid_on(day):
            continue
        counts = matcher.counts(rule, day)
        typer.echo(
            f"{rule.id} ({rule.document}, {rule.mode}): "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )
        if show_sql:
            try:
                sql = (
                    matcher.sql(rule, day) if dialect == "duckdb" else matcher.transpiled(rule, day, dialect)
                )
            except ValueError as exc:
                raise fail(str(exc)) from exc
            typer.echo(sql)


@subsidy_app.command("import")
def subsidy_import(
    file: Annotated[Path, typer.Argument(help="Enterprises as CSV (UTF-8 or GB18030) or Parquet.")],
) -> None:
    """Import enterprises through the city's data dictionary: good rows stored, bad ones listed by line.

    A column the dictionary does not know refuses the file (named); a field with no column is missing.
    """
    from tools.enterprises import EnterpriseRegistry

    engine = migrated_database()
    report = guarded(lambda: EnterpriseRegistry(engine).import_file(file))
    typer.echo(report.summary())
    if report.rejected_rows:
        raise typer.Exit(1)


@subsidy_app.command("push-list")
def subsidy_push_list(
    policy: str,
    out: Annotated[Path, typer.Option(help="CSV to write.")],
    rules: RulesDir = None,
    as_of: Annotated[str | None, typer.Option(help="Evaluation date (default today).")] = None,
) -> None:
    """The enterprises that get POLICY without applying (免申即享), with amounts, as CSV."""
    matcher, loaded = _subsidy_matcher(rules)
    rule = next((r for r in loaded if r.id == policy), None)
    if rule is None:
        raise fail(f"no policy {policy!r} (known: {', '.join(r.id for r in loaded)})")
    count = matcher.export_push_list(rule, parse_date(as_of) or date.today(), out)
    typer.echo(f"{count} enterprises -> {out}")


@subsidy_app.command("explain")
def subsidy_explain(
    credit_code: str,
    rules: RulesDir = None,
    as_of: Annotated[str | None, typer.Option(help="Evaluation date (default today).")] = None,
) -> None:
    """The 政策超市 of one enterprise: each policy's decision, amount, every condition with its clause."""
    matcher, loaded = _subsidy_matcher(rules)
    try:
        decisions = matcher.explain(credit_code.upper(), loaded, parse_date(as_of) or date.today())
    except KeyError as exc:
        raise fail(str(exc)) from exc
    typer.echo(
        json.dumps([dataclasses.asdict(d) for d in decisions], ensure_ascii=False, indent=2, default=str)
    )


_OUTCOMES = {
    "pass": "满足", "fail": "不满足", "missing": "缺数据", "applies": "属排除情形", "clear": "不属排除情形",
}  # fmt: skip


def _yuan(amount: float | None) -> str:
    return "" if amount is None else f" {amount:,.0f} 元"


def _side_line(label: str, side: dict[str, Any]) -> str:
    from tools.subsidies.whatif import DECISIONS, WORDS

    counts = side["counts"]
    shown = [d for d in DECISIONS if d in counts or d != "not_in_force"]
    words = "，".join(f"{WORDS[d]} {counts.get(d, 0)}" for d in shown)
    return f"  {label}：{words}；合计 {side['total']:,.0f} 元"


def simulation_text(result: dict[str, Any], cases: list[Any]) -> str:
    """The what-if as an officer reads it: totals before and after, then each changed enterprise and why."""
    from tools.subsidies.whatif import WORDS

    before, after = result["before"], result["after"]
    base = f"v{before['version']}（{before['status']}）" if before["version"] else "无生效版本（无企业符合）"
    lines = [
        f"{result['rule_id']} v{after['version']}（{after['status']}）对比 {base}，"
        f"{result['as_of']}，{result['enterprises']} 家企业",
        _side_line("之前", before),
        _side_line("之后", after),
        f"结果或金额变化的企业：{result['changed_total']} 家"
        + (f"（列出前 {len(result['changed'])} 家）" if result["truncated"] else ""),
    ]
    for c in result["changed"]:
        lines.append(
            f"  {c['credit_code']} {c['name']}：{WORDS[c['decision_before']]}{_yuan(c['amount_before'])}"
            f" → {WORDS[c['decision_after']]}{_yuan(c['amount_after'])}"
        )
        for r in c["reasons"]:
            values = "，".join(f"{k}={'—' if v is None else v}" for k, v in r["values"].items())
            if r["kind"] == "benefit":
                lines.append(f"      {r['label']}：金额变化（{values}）{r['citation']}")
                continue
            was = _OUTCOMES.get(r["before"], "—") if r["before"] else "（之前没有此条件）"
            now = _OUTCOMES.get(r["after"], "—") if r["after"] else "（已删除此条件）"
            rule = r["expected_after"] or r["expected_before"]
            if r["expected_before"] and r["expected_after"] and r["expected_before"] != r["expected_after"]:
                rule = f"原为 {r['expected_before']}，现为 {r['expected_after']}"
            lines.append(f"      {r['label']}：{was} → {now}（{rule}；{values}）{r['citation']}")
    passed = sum(1 for c in cases if c.passed)
    lines.append(f"测试用例：{passed}/{len(cases)} 通过")
    lines.extend(f"  未通过 {c.message()}" for c in cases if not c.passed)
    return "\n".join(lines)


@subsidy_app.command("simulate")
def subsidy_simulate(
    rule_id: Annotated[str, typer.Argument(metavar="RULE", help="The rule's id (e.g. hightech-award).")],
    version: Annotated[int, typer.Option(help="The stored version to run (usually the draft).")],
    as_of: Annotated[str | None, typer.Option(help="Evaluation date (default today).")] = None,
    limit: Annotated[int, typer.Option(help="How many changed enterprises to list.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """What-if before approving: version N against the active version on the city's enterprises.

    Counts and total amount before and after, each enterprise whose decision or amount changes with
    the conditions that now pass or fail and their clause, and the rule's test cases. The enterprises'
    facts are non-public: for staff.
    """
    from service.container import build_services
    from tools.db import migrate
    from tools.subsidies.store import RuleStore

    services = build_services(cli_settings())
    guarded(lambda: migrate(services.engine))
    day = parse_date(as_of) or date.today()
    result = guarded(lambda: services.subsidies.simulate(rule_id, version, day, limit=limit))
    rule = guarded(lambda: RuleStore(services.engine).version(rule_id, version)[0])
    cases = guarded(lambda: services.subsidies.case_results(rule))
    if as_json:
        data = result.as_dict() | {"tests": [dataclasses.asdict(c) | {"message": c.message()} for c in cases]}
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    typer.echo(simulation_text(result.as_dict(), cases))
    if not result.enterprises:
        typer.secho("no enterprises: import them first", fg=typer.colors.YELLOW, err=True)
