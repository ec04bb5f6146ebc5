"""The law-first ranker: laws from their articles, titles and prior, then articles, spread over laws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eval.bench.knowledge_ranker import fit_logistic, train_law_first
from eval.retrieval import RetrievalItem
from knowledge.index import Scored
from knowledge.lawfirst import (
    ARTICLE_FEATURES,
    LAW_FEATURES,
    WEIGHTS_FILE,
    LawTable,
    Linear,
    RankerWeights,
    law_features,
    law_first,
    law_prior,
)


def _hit(pid: str, title: str, article: str, score: float) -> Scored:
    return Scored(pid, score, {"title": title, "article": article, "label": article, "text": article})


CIVIL = "中华人民共和国民法典"
LABOUR = "中华人民共和国劳动合同法"
RULE = "某某物业服务收费管理办法"
TABLE = LawTable.from_title_counts(
    {CIVIL: 1200, LABOUR: 98, RULE: 20, "中华人民共和国民法典（2020年修订）": 60}
)


def test_the_table_groups_versions_under_one_law_and_matches_titles() -> None:
    assert TABLE.sizes[CIVIL] == 1260
    scores = TABLE.title_scores("公司不签劳动合同怎么办")
    assert max(scores, key=lambda law: scores[law]) == LABOUR and CIVIL not in scores


def test_the_prior_tells_a_national_law_from_a_rule() -> None:
    law, rule = law_prior(CIVIL, 1260), law_prior(RULE, 20)
    assert law[1:3] == [1.0, 1.0] and rule[1:3] == [0.0, 0.0] and rule[4] == 1.0 and law[0] > rule[0]


def _weights(law_coef: list[float], article_coef: list[float], lead: int = 1) -> RankerWeights:
    def linear(coef: list[float]) -> Linear:
        return Linear(tuple([0.0] * len(coef)), tuple([1.0] * len(coef)), tuple(coef), 0.0)

    return RankerWeights(linear(law_coef), linear(article_coef), lead)


def test_the_answer_leads_with_the_best_article_then_spreads_over_laws() -> None:
    rankings = {
        "bm25": [
            _hit("r1", RULE, "第三条", 9.0),
            _hit("r2", RULE, "第四条", 8.0),
            _hit("c1", CIVIL, "第七条", 4.0),
        ],
        "dense": [
            _hit("r1", RULE, "第三条", 0.9),
            _hit("l1", LABOUR, "第十条", 0.8),
            _hit("r2", RULE, "第四条", 0.7),
        ],
    }
    # a law score that follows only the best BM25 article, an article score that follows only BM25
    law = [1.0 if name == "bm25_best" else 0.0 for name in LAW_FEATURES]
    article = [1.0 if name == "bm25_score" else 0.0 for name in ARTICLE_FEATURES]
    hits = law_first(rankings, TABLE, "物业费", _weights(law, article, lead=1), k=4)
    assert [h.candidate.point_id for h in hits][:3] == ["r1", "c1", "l1"]  # one article per next law
    assert hits[0].law_rank == 1 and {h.candidate.point_id for h in hits} == {"r1", "c1", "l1", "r2"}
    assert hits[1].candidate.ranks == {"bm25": 3}


def test_a_law_found_only_by_its_title_is_a_candidate() -> None:
    laws, rows = law_features({"bm25": [_hit("c1", CIVIL, "第七条", 4.0)]}, TABLE, "劳动合同到期")
    assert LABOUR in laws and len(rows[0]) == len(LAW_FEATURES)


def test_weights_round_trip_and_a_file_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    weights = _weights([0.5] * len(LAW_FEATURES), [0.25] * len(ARTICLE_FEATURES), lead=3)
    path = tmp_path / "w.json"
    path.write_text(json.dumps(weights.to_json()), encoding="utf-8")
    assert RankerWeights.load(path) == weights
    data = weights.to_json()
    data["law_features"] = ["something else"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="feature names"):
        RankerWeights.load(path)


def test_the_shipped_weights_load() -> None:
    weights = RankerWeights.load(WEIGHTS_FILE)
    assert len(weights.law.coef) == len(LAW_FEATURES) and weights.lead >= 1


def test_the_logistic_fit_separates_what_is_separable() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = x[:, 0] - 0.2 * x[:, 1] > 0
    model = fit_logistic(x, y)
    predicted = np.array([model(row) > 0 for row in x])
    assert (predicted == y).mean() > 0.95 and model.coef[0] > 0


def test_training_scores_held_out_folds_and_learns_the_law_signal() -> None:
    laws = [f"中华人民共和国第{i}法" for i in range(6)]
    table = LawTable.from_title_counts(dict.fromkeys(laws, 10))
    items, rankings = [], {}
    for q in range(30):
        gold = laws[q % 6]
        # the gold law's article is always in the dense list, mostly below a distractor on BM25
        others = [law for law in laws if law != gold]
        ranking = {
            "bm25": [_hit(f"{q}-x{i}", others[i], "第一条", 5.0 - i) for i in range(3)]
            + [_hit(f"{q}-g", gold, "第二条", 1.0)],
            "dense": [_hit(f"{q}-g", gold, "第二条", 0.9), _hit(f"{q}-x0", others[0], "第一条", 0.5)],
        }
        question = f"问题{q}"
        rankings[question] = ranking
        items.append(RetrievalItem(f"q{q}", question, ((gold, "第二条"),)))
    weights, report = train_law_first(items, rankings.__getitem__, table, folds=3)
    assert report["cross_validated"]["article_recall_at_5"] == 1.0
    assert report["cross_validated"]["law_mrr_at_10"] == 1.0  # learned on other folds: dense first wins
    assert weights.law.coef[LAW_FEATURES.index("dense_rr")] > 0
