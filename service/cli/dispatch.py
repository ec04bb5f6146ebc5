"""``cityagent dispatch train|suggest|eval``: the dispatch model on a city's history."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli._common import cli_settings, fail, guarded

dispatch_app = typer.Typer(
    help="Work-order dispatch: train on a city's history, suggest, evaluate.", no_args_is_help=True
)


Column = Annotated[str, typer.Option(help="Column name in the CSV ('' if the export has none).")]


HistoryFile = Annotated[Path, typer.Option("--history", help="CSV export of past orders (UTF-8 or GB18030).")]


GazetteerFile = Annotated[
    Path | None,
    typer.Option("--gazetteer", help="The city's gazetteer (JSON: districts, streets, roads, aliases)."),
]


RenameFile = Annotated[
    Path | None, typer.Option("--rename", help="CSV of old,new unit names (renamed/merged units).")
]


UnitsFile = Annotated[
    Path | None,
    typer.Option("--units", help="CSV of unit,alias[,alias…]: the city's names and short names of units."),
]


SelectBy = Annotated[
    str, typer.Option("--select-by", help="What the configuration is chosen by: accuracy or macro_f1.")
]


Folds = Annotated[int, typer.Option(help="Cross-validation folds for choosing the configuration.")]


def _orders(history: Path, **columns: str) -> Any:
    from tools.dispatch.inputs import columns_of, load_orders

    loaded = guarded(lambda: load_orders(history, columns_of(**columns)))
    if loaded.skipped:
        typer.echo(f"{history}: {len(loaded.skipped)} rows skipped (no text or department):", err=True)
        for line, reason in loaded.skipped[:20]:
            typer.echo(f"  line {line}: {reason}", err=True)
        if len(loaded.skipped) > 20:
            typer.echo(f"  … and {len(loaded.skipped) - 20} more", err=True)
    if not loaded.orders:
        fail(f"{history}: no usable orders")
    return loaded


def _print_selection(selection: dict[str, Any]) -> None:
    if not selection:
        return
    typer.echo(
        f"configurations tried ({selection['folds']}-fold CV on the training history, "
        f"chosen by {selection['metric']}, {selection['seconds']}s):"
    )
    for row in selection["table"]:
        mark = "*" if row["config"] == selection["chosen_label"] else " "
        typer.echo(
            f" {mark} top1 {row['accuracy']:.3f}  top3 {row['top3']:.3f}  "
            f"macro-F1 {row['macro_f1']:.3f}  {row['config']}"
        )


@dispatch_app.command("train")
def dispatch_train(
    history: HistoryFile,
    text_column: Column = "诉求内容",
    department_column: Column = "处置部门",
    title_column: Column = "标题",
    address_column: Column = "地址",
    notes_column: Column = "",
    category_column: Column = "类别",
    urgency_column: Column = "紧急程度",
    id_column: Column = "工单编号",
    duties: Annotated[
        Path | None,
        typer.Option(help="Responsibility list (权责清单) document (default: the loaded city's)."),
    ] = None,
    gazetteer: GazetteerFile = None,
    rename: RenameFile = None,
    units: UnitsFile = None,
    select_by: SelectBy = "accuracy",
    folds: Folds = 3,
) -> None:
    """Train a dispatch model on a history export (configuration chosen by CV on it); make it current."""
    from tools.citypack import loaded_city
    from tools.dispatch.duties import DutyTable
    from tools.dispatch.inputs import load_tables
    from tools.dispatch.model import DispatchModel

    settings = cli_settings()
    loaded = _orders(
        history,
        text=text_column,
        department=department_column,
        title=title_column,
        address=address_column,
        notes=notes_column,
        category=category_column,
        urgency=urgency_column,
        order_id=id_column,
    )
    tables = guarded(lambda: load_tables(gazetteer, rename, units))
    city = guarded(lambda: loaded_city(settings.data_dir))
    duty_doc = duties or (city.duty_list if city else None)
    if duty_doc is None:
        typer.echo(
            "no responsibility list (load a city pack or give --duties): reasons will not cite duties",
            err=True,
        )
        table = DutyTable("", [])
    else:
        duty_path: Path = duty_doc
        table = guarded(lambda: DutyTable.from_document(duty_path))
    model = guarded(
        lambda: DispatchModel(table, gazetteer=tables.gazetteer).fit(
            loaded.orders,
            source=str(history),
            metric=select_by,
            folds=folds,
            renames=tables.renames,
            directory=tables.directory,
        )
    )
    folder = model.save(settings.data_dir / "dispatch")
    _print_selection(model.selection)
    typer.echo(
        f"trained {model.info.version} on {model.info.orders} orders, {model.info.departments} departments "
        f"in {model.info.seconds}s ({model.config.label()}) -> {folder}"
    )


@dispatch_app.command("suggest")
def dispatch_suggest(
    text: str,
    title: Annotated[str, typer.Option(help="The order's title, if any.")] = "",
    address: Annotated[str, typer.Option(help="The order's address, if any.")] = "",
    notes: Annotated[str, typer.Option(help="The operator's note, if any.")] = "",
    version: Annotated[str | None, typer.Option(help="Model version (default: current).")] = None,
) -> None:
    """Suggest category, urgency and the top-3 departments with reasons for one order."""
    from knowledge.embeddings import build_embedder
    from tools.dispatch.model import load_model

    settings = cli_settings()
    model = guarded(lambda: load_model(settings.data_dir / "dispatch", version))
    model.use_embedder(build_embedder(settings.embeddings).embed_documents)
    suggestion = model.suggest(title, text, address=address, notes=notes)
    typer.echo(json.dumps(dataclasses.asdict(suggestion), ensure_ascii=False, indent=2))


@dispatch_app.command("eval")
def dispatch_eval(
    history: HistoryFile,
    test: Annotated[
        Path | None, typer.Option(help="A separate test export (else --test-fraction of --history).")
    ] = None,
    test_fraction: Annotated[float, typer.Option(help="Share of orders held out.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
    text_column: Column = "诉求内容",
    department_column: Column = "处置部门",
    title_column: Column = "标题",
    address_column: Column = "地址",
    notes_column: Column = "",
    category_column: Column = "类别",
    urgency_column: Column = "紧急程度",
    id_column: Column = "工单编号",
    gazetteer: GazetteerFile = None,
    rename: RenameFile = None,
    units: UnitsFile = None,
    select_by: SelectBy = "accuracy",
    folds: Folds = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Everything as JSON.")] = False,
) -> None:
    """Held-out accuracy, macro-F1, top-3, confusion and calibration, beside TF-IDF char 1–3 + LinearSVC."""
    from tools.dispatch.evaluation import FitOptions, evaluate
    from tools.dispatch.inputs import load_tables

    columns = {
        "text": text_column,
        "department": department_column,
        "title": title_column,
        "address": address_column,
        "notes": notes_column,
        "category": category_column,
        "urgency": urgency_column,
        "order_id": id_column,
    }
    loaded = _orders(history, **columns)
    held = _orders(test, **columns) if test else None
    tables = guarded(lambda: load_tables(gazetteer, rename, units))
    options = FitOptions(
        metric=select_by,
        folds=folds,
        renames=tables.renames,
        directory=tables.directory,
        gazetteer=tables.gazetteer,
    )
    if held is not None:
        result = guarded(lambda: evaluate(train=loaded.orders, test=held.orders, seed=seed, options=options))
    else:
        result = guarded(
            lambda: evaluate(loaded.orders, test_fraction=test_fraction, seed=seed, options=options)
        )
    skipped = {"history": loaded.report(), **({"test": held.report()} if held else {})}
    if as_json:
        typer.echo(
            json.dumps({**dataclasses.asdict(result), "skipped": skipped}, ensure_ascii=False, indent=2)
        )
        return
    base = result.baseline
    typer.echo(
        f"trained on {result.train_orders} orders, tested on {result.test_orders}, "
        f"{result.departments} departments; chosen: {result.config}"
    )
    typer.echo(f"{'':28}{'top-1':>8}{'top-3':>8}{'macro-F1':>10}")
    typer.echo(
        f"{'dispatch model':28}{result.accuracy:8.3f}{result.top3_accuracy:8.3f}{result.macro_f1:10.3f}"
    )
    typer.echo(
        f"{'baseline char1-3 LinearSVC':28}{base['accuracy']:8.3f}{base['top3']:8.3f}{base['macro_f1']:10.3f}"
    )
    typer.echo(
        f"top-1 above the baseline: {result.top1_above_baseline:+.3f}; "
        f"calibration error (ECE) {result.expected_calibration_error:.3f}"
    )
    for part in skipped.values():
        if part["skipped_rows"]:
            typer.echo(
                f"{part['file']}: {part['skipped_rows']} rows skipped, lines {part['skipped_lines'][:20]}"
            )
