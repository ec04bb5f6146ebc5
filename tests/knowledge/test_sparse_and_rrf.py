"""BM25 vectors and reciprocal-rank fusion."""

from __future__ import annotations

from datetime import date

import pytest

from knowledge.documents import DocumentMeta
from knowledge.index import Scored
from knowledge.retriever import rrf
from knowledge.sparse import BM25Encoder, term_id, tokens
from knowledge.supersede import Supersession, base_title, find_supersessions, repealed_references


def test_tokens_drop_punctuation_and_function_words_and_keep_subwords() -> None:
    toks = tokens("请问，租房子能不能用公积金？")
    assert "公积金" in toks and "积金" in toks and "租房" in toks
    assert "，" not in toks and "请问" not in toks


def test_term_ids_are_stable_31_bit() -> None:
    assert term_id("公积金") == term_id("公积金")
    assert 0 <= term_id("公积金") < 2**31


def test_document_weights_saturate_and_normalise_length() -> None:
    enc = BM25Encoder(k1=1.2, b=0.75, avgdl=10)
    once = enc.encode_document("公积金")
    many = enc.encode_document("公积金 " * 20)
    weight = dict(zip(many.indices, many.values, strict=True))[term_id("公积金")]
    assert weight < 1.2 + 1  # saturates at k1 + 1
    assert weight > dict(zip(once.indices, once.values, strict=True))[term_id("公积金")] * 0.9
    assert enc.encode_document("。，！").indices == []
    assert enc.encode_query("公积金 公积金").values == [1.0] * len(enc.encode_query("公积金").indices)


def test_rrf_rewards_agreement_and_keeps_ranks() -> None:
    def s(pid: str, score: float = 1.0) -> Scored:
        return Scored(pid, score, {"id": pid})

    fused = rrf({"dense": [s("a"), s("b", 0.8), s("c")], "bm25": [s("b", 7.5), s("d")]}, k=60)
    assert [hit.point_id for hit in fused] == ["b", "a", "d", "c"]
    assert fused[0].ranks == {"dense": 2, "bm25": 1}
    assert fused[0].scores == {"dense": 0.8, "bm25": 7.5}
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_supersession_by_declaration_and_by_version() -> None:
    docs = {
        "old": DocumentMeta(
            title="示例市城市绿化管理办法", doc_number="示政规〔2020〕6号", effective_date=date(2020, 5, 1)
        ),
        "new": DocumentMeta(title="示例市城市绿化管理办法（2025年修订）", effective_date=date(2025, 5, 1)),
        "r2019": DocumentMeta(title="道路运输条例", effective_date=date(2019, 3, 2)),
        "r2023": DocumentMeta(title="道路运输条例", effective_date=date(2023, 7, 20)),
        "other": DocumentMeta(title="道路运输条例", region="广东", effective_date=date(2020, 1, 1)),
    }
    text = "第八条 本办法自2025年5月1日起施行。《示例市城市绿化管理办法》（示政规〔2020〕6号）同时废止。"
    assert repealed_references(text) == [("示例市城市绿化管理办法", "示政规〔2020〕6号")]
    found = {s.old: s for s in find_supersessions(docs, {"new": text})}
    assert set(found) == {"old", "r2019"}
    assert found["old"] == Supersession("old", "new", "《示例市城市绿化管理办法（2025年修订）》宣布废止")
    assert found["r2019"].new == "r2023"
    assert base_title("示例市城市绿化管理办法（2025年修订）") == "示例市城市绿化管理办法"


def test_weighted_rrf_lets_the_better_path_lead() -> None:
    rankings = {"dense": [Scored("d1", 0.9, {})], "bm25": [Scored("b1", 14.0, {}), Scored("b2", 9.0, {})]}
    to_dense = rrf(rankings, 5, {"dense": 3.0, "bm25": 1.0})
    assert [h.point_id for h in to_dense] == ["d1", "b1", "b2"] and to_dense[0].score == pytest.approx(
        3.0 / 6
    )
    to_bm25 = rrf(rankings, 5, {"dense": 1.0, "bm25": 2.0})
    assert [h.point_id for h in to_bm25] == ["b1", "b2", "d1"]


def test_fusion_tuning_picks_the_weight_on_one_fold_and_scores_it_on_the_other() -> None:
    from eval.bench.knowledge import tune_fusion  # noqa: PLC0415
    from eval.retrieval import RetrievalItem  # noqa: PLC0415

    def point(pid: str, article: str) -> Scored:
        return Scored(pid, 1.0, {"title": "法", "article": article})

    class Stub:  # only dense finds the gold article (rank 2); the noise is on both paths
        def rankings(self, question: str) -> dict[str, list[Scored]]:
            gold = point(question, "第一条")
            noise = [point(f"{question}-{i}", "第九条") for i in range(6)]
            return {"dense": [noise[0], gold, *noise[1:]], "bm25": [*noise[1:], noise[0]]}

    items = [RetrievalItem(f"q{i}", f"q{i}", (("法", "第一条"),)) for i in range(10)]
    tuned = tune_fusion(Stub(), items)  # type: ignore[arg-type]
    assert tuned["best_on_whole_suite"]["dense_weight"] >= 2.0
    assert tuned["cross_validated_recall_at_5"] == 1.0 > tuned["equal_weights_k60"]["recall_at_5"]
    assert [f["items"] for f in tuned["folds"]] == [5, 5]


def test_candidate_recall_counts_gold_found_deep_on_either_path() -> None:
    from eval.bench.knowledge import candidate_recall  # noqa: PLC0415
    from eval.retrieval import RetrievalItem  # noqa: PLC0415
    from knowledge.retriever import Hit  # noqa: PLC0415

    class Stub:  # q0: dense finds it at 80; q1: BM25 at 3; q2: neither within the depth
        def search_sync(self, question: str, *, k: int, mode: str) -> list[Hit]:
            where = {("q0", "dense"): 80, ("q1", "bm25"): 3, ("q2", "dense"): 150}.get((question, mode))
            return [
                Hit(f"{i}", 1.0, {"title": "法", "article": "第一条" if i == where else "第九条"}, {}, {})
                for i in range(1, k + 1)
            ]

    items = [RetrievalItem(q, q, (("法", "第一条"),)) for q in ("q0", "q1", "q2")]
    found = candidate_recall(Stub(), items)  # type: ignore[arg-type]
    assert found == {"depth": 100, "dense": 0.333, "bm25": 0.333, "either": 0.667}
