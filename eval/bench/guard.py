"""The answer guard's figure and yes/no checks on the demo city's own articles, beside the guard without them.

``python -m eval.bench.guard [DOCUMENTS_DIR]`` (default: the demo pack's documents). Two figures:

* **kept**: every sentence of every article, cited to its own article, must come through unchanged
  (a verbatim quote is the easiest correct answer; anything withheld is a false alarm);
* **caught**: each sentence holding a figure, with that one figure changed (15 -> 16, 三分之二 ->
  四分之三, 三年 -> 四年), cited to its own article, must not come through unchanged;
* **whole document**: each sentence with all its document's articles given, cited to its own
  article (must stay) and cited to the next article (should be moved back to its own; see
  :func:`miscited`).

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
    return [(clause, s) for clauses in _documents(documents) for clause, s in _quotes(clauses)]


def _documents(documents: Path) -> list[list[dict[str, str]]]:
    """Each document's articles as clauses (title, label, text)."""
    out = []
    for doc in sorted(documents.glob("*.md")):
        title = doc.stem.split("-", 1)[-1]
        articles = _ARTICLE.findall(doc.read_text(encoding="utf-8"))
        out.append([{"title": title, "label": label, "text": f"{label} {body}"} for label, body in articles])
    return out


def _quotes(clauses: list[dict[str, str]]) -> list[tuple[dict[str, str], str]]:
    return [(c, s) for c in clauses for s in _SENTENCE.findall(c["text"].split(" ", 1)[1]) if len(s) >= 6]


def _cite(sentence: str, clause: dict[str, str]) -> str:
    return sentence.rstrip("。；") + f"〔{clause['title']} {clause['label']}〕。"


def miscited(documents: Path, *, check_claims: bool = True) -> dict[str, int]:
    """Quotes given all their document's articles, cited right and cited to the next article.

    * ``right_kept``: cited to its own article, it comes through unchanged (a move here is a false move);
    * of those cited to the next article instead: ``moved_back`` (now cited to its own), ``left_wrong``
      (shown under the wrong one), ``withheld`` (taken out).
    """
    counts = {"quotes": 0, "right_kept": 0, "miscited": 0, "moved_back": 0, "left_wrong": 0, "withheld": 0}
    for clauses in _documents(documents):
        if len(clauses) < 2:
            continue
        for clause, sentence in _quotes(clauses):
            counts["quotes"] += 1
            right = _cite(sentence, clause)
            counts["right_kept"] += verify_answer(right, clauses, check_claims=check_claims).text == right
            other = clauses[(clauses.index(clause) + 1) % len(clauses)]
            if other["text"] == clause["text"]:
                continue
            counts["miscited"] += 1
            shown = verify_answer(_cite(sentence, other), clauses, check_claims=check_claims).text
            if shown == right:
                counts["moved_back"] += 1
            elif sentence.rstrip("。；") in shown:
                counts["left_wrong"] += 1
            else:
                counts["withheld"] += 1
    return counts


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
        ms = round((time.perf_counter() - started) * 1000 / max(1, len(cases)), 3)
        report[name] = {
            "quotes_kept": kept,
            "changed_figures": mutants,
            "changed_figures_caught": caught,
            "ms_per_sentence": ms,
            "whole_document": miscited(documents, check_claims=claims),
        }
    return report


def main() -> None:
    """Print the report as JSON."""
    documents = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCUMENTS
    sys.stdout.write(json.dumps(run(documents), ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
