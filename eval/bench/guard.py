"""The answer guard's figure and yes/no checks on the demo city's own articles, beside the guard without them.

``python -m eval.bench.guard [DOCUMENTS_DIR]`` (default: the demo pack's documents). Two figures:

* **kept**: every sentence of every article, cited to its own article, must come through unchanged
  (a verbatim quote is the easiest correct answer; anything withheld is a false alarm);
* **caught**: each sentence holding a figure, with that one figure changed (15 -> 16, 三分之二 ->
  四分之三, 三年 -> 四年), cited to its own article, must not come through unchanged.

Both run the guard with and without :mod:`agents.resident.claims` (``check_claims``), so the
figure for the old guard is printed in the same run.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from agents.resident.guard import verify_answer

DOCUMENTS = Path(__file__).resolve().parents[2] / "service" / "demo_city" / "pack" / "documents"
_ARTICLE = re.compile(r"^(第[一二三四五六七八九十百]+条)\s*(.+)$", re.MULTILINE)
_SENTENCE = re.compile(r"[^。；]+[。；]?")
_NEXT = dict(zip("二三四五六七八九十", ["三", "四", "五", "六", "七", "八", "九", "二", "十一"], strict=True))
_UNIT = r"(?:%|元|万元|个?工作日|日|天|年|个月|月|小时|分钟|周岁|岁|人|户|平方米|倍|次)"


def mutate(sentence: str) -> str | None:
    """The sentence with its first figure changed, or None when it holds none."""
    if m := re.search(rf"(?<![第〔\d])(\d+)(?![\d〕])(?=\s*{_UNIT})", sentence):
        return sentence[: m.start(1)] + str(int(m.group(1)) + 1) + sentence[m.end(1) :]
    if m := re.search(r"([二三四五六七八九十])分之([一二三四五六七八九])", sentence):
        return sentence[: m.start(1)] + _NEXT[m.group(1)] + sentence[m.end(1) :]
    if m := re.search(r"(?<!第)([二三四五六七八九十])(?=个?(?:工作日|日|天|年|个月|小时|周岁|岁))", sentence):
        return sentence[: m.start(1)] + _NEXT[m.group(1)] + sentence[m.end(1) :]
    return None


def _cases(documents: Path) -> list[tuple[dict[str, str], str]]:
    cases = []
    for doc in sorted(documents.glob("*.md")):
        title = doc.stem.split("-", 1)[-1]
        for label, body in _ARTICLE.findall(doc.read_text(encoding="utf-8")):
            clause = {"title": title, "label": label, "text": f"{label} {body}"}
            cases += [(clause, s) for s in _SENTENCE.findall(body) if len(s) >= 6]
    return cases


def run(documents: Path = DOCUMENTS) -> dict[str, Any]:
    """Kept verbatim quotes and caught changed figures, with and without the claim checks."""
    cases = _cases(documents)
    report: dict[str, Any] = {"documents": str(documents), "quotes": len(cases)}
    for name, claims in (("guard", True), ("baseline_without_claims", False)):
        kept = caught = mutants = 0
        started = time.perf_counter()
        for clause, sentence in cases:
            cite = f"〔{clause['title']} {clause['label']}〕"
            quote = sentence.rstrip("。；") + cite + "。"
            kept += verify_answer(quote, [clause], check_claims=claims).text == quote
            if changed := mutate(sentence):
                wrong = changed.rstrip("。；") + cite + "。"
                mutants += 1
                caught += verify_answer(wrong, [clause], check_claims=claims).text != wrong
        report[name] = {
            "quotes_kept": kept,
            "changed_figures": mutants,
            "changed_figures_caught": caught,
            "ms_per_sentence": round((time.perf_counter() - started) * 1000 / max(1, len(cases)), 3),
        }
    return report


def main() -> None:
    """Print the report as JSON."""
    documents = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCUMENTS
    sys.stdout.write(json.dumps(run(documents), ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
