"""Chinese names of the metrics, for the report and the comparison page (the keys stay in the JSON)."""

from __future__ import annotations

METRIC_LABELS = {
    "refusal_correct": "拒答判断正确率",
    "citation_accuracy": "引用准确率",
    "retrieval_recall": "检索召回率",
    "retrieval_mrr": "检索 MRR",
    "false_refusal": "误拒答率（越低越好）",
    "invented_answer": "编造回答率（越低越好）",
    "bleu": "BLEU",
    "rouge_l": "ROUGE-L",
    "chrf": "chrF",
    "faithfulness": "忠实度",
    "answer_relevancy": "回答相关性",
    "context_precision": "上下文精确率",
    "context_recall": "上下文召回率",
    "department_accuracy": "派单部门准确率",
    "department_top3": "派单部门前三命中率",
    "category_exact": "分类准确率",
    "urgency_exact": "紧急程度准确率",
    "passed": "对话脚本通过率",
    "decision_accuracy": "补贴判定准确率",
    "missing_fields_exact": "缺失字段完全一致率",
    "amount_abs_error": "金额绝对误差（元，越低越好）",
}
TASK_LABELS = {"qa": "问答", "dispatch": "派单", "subsidy": "惠企补贴", "chat": "多轮对话"}


def metric_label(name: str) -> str:
    """The Chinese name of a metric (the key itself when it has none)."""
    return METRIC_LABELS.get(name, name)
