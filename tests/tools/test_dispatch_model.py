"""The dispatch model: learns a city's history, suggests with calibrated confidence and reasons."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from knowledge.config import EmbeddingSettings
from knowledge.embeddings import build_embedder
from service.demo_city import DOCUMENTS_DIR, WORK_ORDERS_CSV
from tools.dispatch.duties import DutyTable
from tools.dispatch.features import word_bounds
from tools.dispatch.history import read_history
from tools.dispatch.location import strip_places
from tools.dispatch.model import DispatchModel, TrainingOrder, load_model

DUTIES = DOCUMENTS_DIR / "23-12345热线派单目录及部门权责清单.md"


@pytest.fixture(scope="module")
def orders() -> list[TrainingOrder]:
    rows, report = read_history(WORK_ORDERS_CSV)
    assert not report.errors
    return [TrainingOrder.from_history_row(r) for r in rows]


@pytest.fixture(scope="module")
def model(orders: list[TrainingOrder]) -> DispatchModel:
    trained = DispatchModel(DutyTable.from_document(DUTIES)).fit(orders[:1000], source="demo")
    trained.use_embedder(build_embedder(EmbeddingSettings()).embed_documents)
    return trained


def test_heldout_accuracy_on_the_demo_history(model: DispatchModel, orders: list[TrainingOrder]) -> None:
    held = orders[1000:]
    suggestions = model.suggest_many([(o.title, o.text) for o in held], duty_reasons=False)
    top1 = np.mean(
        [s.departments[0].department == o.department for s, o in zip(suggestions, held, strict=True)]
    )
    top3 = np.mean(
        [
            o.department in {d.department for d in s.departments}
            for s, o in zip(suggestions, held, strict=True)
        ]
    )
    assert top1 > 0.8 and top3 > 0.9
    assert all(s.category and s.urgency for s in suggestions)


def test_confidences_are_probabilities_best_first(model: DispatchModel) -> None:
    suggestion = model.suggest("", "北岭区建设路98号下水道堵塞，污水漫到路面")
    confidences = [d.confidence for d in suggestion.departments]
    assert confidences == sorted(confidences, reverse=True)
    assert 0 < sum(confidences) <= 1.0 + 1e-6
    assert suggestion.departments[0].department == "市水务局"
    assert suggestion.model_version == model.info.version


def test_reasons_name_phrases_past_orders_and_a_cited_duty(model: DispatchModel) -> None:
    best = model.suggest("", "湖滨路一家餐馆油烟直排，家里窗户都是油").departments[0]
    assert best.department == "市生态环境局"
    assert any("油烟" in p for p in best.key_phrases)
    assert best.similar and all(
        s.department == best.department and s.order_id.startswith("SL") for s in best.similar
    )
    assert best.duty is not None and best.duty.citation.startswith(
        "〔示例市12345热线派单目录及部门权责清单 第"
    )
    assert best.duty.duty in "工业企业废气、废水排放和污染、餐饮油烟、工业噪声、环境污染事件、辐射安全"


def test_key_phrases_are_whole_words_never_fragments(model: DispatchModel) -> None:
    text = "东湖区文昌路88号门口的路灯坏了，晚上很黑：东门那边也一样"
    bounds = word_bounds(text)
    for choice in model.suggest("", text).departments:
        for phrase in choice.key_phrases:
            assert not re.search(r"[\W_]", phrase), phrase  # no "，晚" or "：东"
            assert bounds.whole(phrase), phrase  # no "口的": it straddles 门口 | 的
    assert not bounds.whole("口的") and not bounds.whole("，晚") and bounds.whole("路灯")


def test_save_and_load_versions(model: DispatchModel, tmp_path: Path) -> None:
    folder = model.save(tmp_path)
    assert (tmp_path / "CURRENT").read_text() == model.info.version == folder.name
    loaded = load_model(tmp_path)
    assert loaded.embed is None  # a live embedder is never pickled
    text = "供水管道爆裂，水喷得很高"
    assert (
        loaded.suggest("", text).departments[0].department
        == model.suggest("", text).departments[0].department
    )


def test_missing_model_and_too_little_history(tmp_path: Path, orders: list[TrainingOrder]) -> None:
    with pytest.raises(FileNotFoundError, match="dispatch train"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="at least 10"):
        DispatchModel().fit(orders[:3])
    one_department = [TrainingOrder(str(i), "", f"路灯不亮{i}", "市城市管理局") for i in range(12)]
    with pytest.raises(ValueError, match="two different labels"):
        DispatchModel().fit(one_department)


def test_duty_table_and_address_stripping() -> None:
    table = DutyTable.from_document(DUTIES)
    assert len(table.departments) >= 25 and "市水务局" in table.departments
    assert strip_places("北岭区建设路98号下水道堵塞，污水漫到路面").split() == ["下水道堵塞，污水漫到路面"]
    with pytest.raises(ValueError, match="第X条"):
        DutyTable.from_document(DOCUMENTS_DIR / "07-生活垃圾分类管理条例.md")
