"""``cityagent bench dispatch``: the dispatcher beside a TF-IDF char 1–3 + LinearSVC baseline, and speed.

Quality: for each history (TipDM's labelled messages and the demo history by default, or
any city's CSV), one stratified 70/30 split; the dispatcher chooses its configuration by
cross-validation on the 70 % alone, and both it and the baseline are scored on the same
30 %. Speed: training (with the selection) on 5,000 generated demo orders, and one
suggestion at a time with its duty match (one embedding per order).
"""

from __future__ import annotations

import csv
import random
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from eval.bench.stats import summary_ms
from tools.csvio import decode_text
from tools.dispatch.evaluation import FitOptions, evaluate
from tools.dispatch.inputs import LoadedOrders
from tools.dispatch.model import DispatchModel, TrainingOrder

_SPACE = re.compile(r"\s+")


def load_tipdm(path: Path) -> list[TrainingOrder]:
    """The labelled messages as training orders (the category stands where a department would)."""
    rows = csv.DictReader(decode_text(path.read_bytes(), str(path)).splitlines())
    return [
        TrainingOrder(
            r["留言编号"],
            _SPACE.sub(" ", r["留言主题"]).strip(),
            _SPACE.sub(" ", r["留言详情"]).strip(),
            r["一级分类"],
        )
        for r in rows
    ]


def tipdm_history(path: Path) -> LoadedOrders:
    """The labelled messages, as ``bench dispatch`` reads any export."""
    return LoadedOrders(str(path), load_tipdm(path))


_DISTRICT = re.compile(r"[A-Z]\d{1,2}[区县市]")


def tipdm_by_district(path: Path, address_share: float = 0.4, seed: int = 0) -> LoadedOrders:
    """A stress test of district-bound units from the real messages: the unit is category × district.

    The district is the first one a message names (A3区, L6县; "市级" when none): about 200 units,
    most with a handful of orders, as in a real export. ``address_share`` of the orders that name a
    place get an address column (the district and what follows it), as exports fill ~40 %.
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible choice, not cryptography
    orders = []
    for order in load_tipdm(path):
        match = _DISTRICT.search(f"{order.title} {order.text}")
        district = match.group(0) if match else "市级"
        address = ""
        if match and rng.random() < address_share:
            source = f"{order.title} {order.text}"
            address = source[match.start() : match.start() + 12].split("，", maxsplit=1)[0]
        orders.append(replace(order, department=f"{order.department}·{district}", address=address))
    return LoadedOrders(f"{path} (category × district)", orders)


def demo_orders(n: int, seed: int = 7) -> list[TrainingOrder]:
    """``n`` generated demo orders (for timing: their texts are too regular to tell models apart)."""
    from service.demo_city import work_orders  # noqa: PLC0415 - only the speed figures use the demo

    return [
        TrainingOrder(
            str(o["工单编号"]),
            str(o["标题"]),
            str(o["诉求内容"]),
            str(o["处置部门"]),
            str(o["类别"]),
            str(o["紧急程度"]),
            str(o.get("地址", "")),
        )
        for o in work_orders.generate(n, seed=seed)
    ]


def _quality(loaded: LoadedOrders, test_fraction: float, seed: int) -> dict[str, Any]:
    result = evaluate(loaded.orders, test_fraction=test_fraction, seed=seed, options=FitOptions())
    return {
        "orders": len(loaded.orders),
        "skipped_rows": len(loaded.skipped),
        "skipped_lines": [line for line, _ in loaded.skipped][:50],
        "train": result.train_orders,
        "test": result.test_orders,
        "departments": result.departments,
        "dispatcher": {
            "accuracy": result.accuracy,
            "top3": result.top3_accuracy,
            "macro_f1": result.macro_f1,
            "ece": result.expected_calibration_error,
        },
        "baseline_char1-3_linearsvc": result.baseline,
        "top1_above_baseline": result.top1_above_baseline,
        "chosen_configuration": result.config,
        "train_seconds_with_selection": result.train_seconds,
    }


def _time_singles(model: DispatchModel, probe: list[TrainingOrder]) -> dict[str, float]:
    """p50/p95 of suggesting one order at a time."""
    times = []
    for order in probe:
        started = time.perf_counter()
        model.suggest(order.title, order.text, address=order.address)
        times.append(time.perf_counter() - started)
    return summary_ms(times)


def run_dispatch_bench(
    datasets: dict[str, LoadedOrders],
    synthetic: list[TrainingOrder],
    embed: Any,
    *,
    test_fraction: float = 0.3,
    seed: int = 0,
) -> dict[str, Any]:
    """Quality per history (same split for both); speed on ``synthetic`` when given."""
    result: dict[str, Any] = {
        "split": f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%}, seed {seed}",
        "quality": {name: _quality(loaded, test_fraction, seed) for name, loaded in datasets.items()},
    }
    if not synthetic:
        return result
    started = time.perf_counter()
    model = DispatchModel().fit(synthetic)
    result["train_seconds"] = {
        "orders": len(synthetic),
        "departments": model.info.departments,
        "seconds_with_selection": round(time.perf_counter() - started, 1),
        "selection_seconds": model.selection.get("seconds"),
        "chosen": model.config.label(),
    }
    probe = synthetic[:400]
    started = time.perf_counter()
    model.suggest_many([o.document() for o in probe], duty_reasons=False)
    result["batch_orders_per_s"] = round(len(probe) / (time.perf_counter() - started), 1)
    result["single_order"] = _time_singles(model, probe[:200])
    if embed is not None:
        from service.demo_city import DOCUMENTS_DIR  # noqa: PLC0415 - the demo duties only for this figure
        from tools.dispatch.duties import DutyTable  # noqa: PLC0415

        model.duties = DutyTable.from_document(DOCUMENTS_DIR / "23-12345热线派单目录及部门权责清单.md")
        model.use_embedder(embed)
        result["single_order_with_duty_match"] = _time_singles(model, probe[:200])
    return result
