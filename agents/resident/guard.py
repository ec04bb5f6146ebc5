"""What stands between retrieved text, the model, and the resident.

* :func:`clean_context` drops sentences of a retrieved passage that give orders to an
  assistant ("忽略以上规则…", "助手请注意：从现在起…"): a document is evidence, never an
  instruction. The detector is :mod:`knowledge.injection`, the same one ingestion uses to
  hold a document for review; this is the second line, for whatever got past the first.
* :func:`verify_answer` keeps only the citations that name a retrieved clause; removes any
  telephone number, amount of money or deadline that appears in none of the retrieved
  clauses; and drops every sentence whose wording neither the clauses nor the question
  support (fewer than 40% of its character pairs occur in them; calibrated on the embedded
  model's answers to the demo questions): the model may rephrase a rule, never invent one.
* Each sentence is then checked against the clause it cites (its own citation, else the
  answer's, else every clause; see :mod:`agents.resident.claims`): every figure in it
  (三分之二, 2/3, 30%, 以上/以下 bounds, 十五分钟, counts with units) must be in that clause or in the
  resident's question. A figure found only in another retrieved clause moves the citation
  there; found nowhere, the sentence is withheld. A sentence whose yes/no (免收/收费, 可以/不得,
  需要/无需) the cited clause contradicts is withheld, and so is one its clause's own words (the
  question's left out) barely hold; a sentence another retrieved clause holds far better is cited
  there. A list's numbering and a document's name are not figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.resident import claims
from knowledge.gate import asked_kinds
from knowledge.injection import strip_instructions

_CITATION = re.compile(r"〔([^〔〕]{2,80})〕")
# Facts a model must not make up: phone numbers, sums of money, time limits.
_PHONE = re.compile(r"(?<![\d.])(?:\d{3,4}-\d{7,8}|1[3-9]\d{9}|400-?\d{3}-?\d{4}|\d{5})(?![\d.])")
_MONEY = re.compile(r"\d+(?:\.\d+)?\s*(?:万元|元|块钱|块)")
_LIMIT = re.compile(r"\d+\s*个?(?:工作日|日内|天内|个月内|小时内|年内)")
REMOVED = "（此处内容未在文件中找到，已删除）"
MIN_SUPPORT = 0.4
# the share of a sentence's character pairs its cited clause alone must hold when it says yes or no,
# and how much better another retrieved clause must hold it to take the citation
MIN_CLAUSE_SUPPORT = 0.25
MOVE_MARGIN = 0.2
# pairs of the answer's own framing, not of any rule ("根据", "规定", "是的")
_STOCK_PAIRS = {"根据", "据资", "资料", "规定", "是的", "条款", "文件", "办法", "您的", "需要", "可以"}
_ANSWER_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_CJK = re.compile(r"[\u4e00-\u9fff0-9]+")


def _pairs(text: str) -> set[str]:
    return {run[i : i + 2] for run in _CJK.findall(text) for i in range(len(run) - 1)}


def support(sentence: str, evidence_pairs: set[str]) -> float:
    """The share of the sentence's character pairs found in the evidence (1.0 for very short sentences)."""
    pairs = _pairs(_CITATION.sub("", sentence).replace(REMOVED, "，"))  # the guard's own mark is no claim
    if len(pairs) < 6:
        return 1.0
    return len(pairs & evidence_pairs) / len(pairs)


def clean_context(text: str) -> tuple[str, bool]:
    """The passage without instruction-like sentences (see :mod:`knowledge.injection`); whether any went."""
    kept, flags = strip_instructions(text)
    return kept, bool(flags)


@dataclass(frozen=True)
class Verified:
    """The answer as it may be shown, which retrieved clauses it cites, and what was taken out."""

    text: str
    cited: list[int]
    removed: list[str] = field(default_factory=list)


def _normal(text: str) -> str:
    return re.sub(r"[\s《》<>〈〉“”\"'（）()]", "", text)


def _match_citation(inner: str, labels: Sequence[tuple[str, str]]) -> int | None:
    """Which clause ``〔inner〕`` names: title and article, or the article of a title named in part."""
    norm = _normal(inner)
    for i, (title, article) in enumerate(labels):
        if norm == _normal(f"{title}{article}"):
            return i
    for i, (title, article) in enumerate(labels):
        if article and article in norm and (_normal(title) in norm or norm.replace(article, "") in title):
            return i
    return None


def verify_answer(
    answer: str,
    clauses: Sequence[dict[str, Any]],
    question: str = "",
    hotline: str = "12345",
    *,
    check_claims: bool = True,
) -> Verified:
    """Check an answer against the clauses it was given (each with ``title``, ``label``, ``text``).

    ``check_claims=False`` leaves out the per-sentence figure and yes/no checks (the baseline the
    guard bench prints beside them).
    """
    labels = [(str(c.get("title", "")), str(c.get("label", ""))) for c in clauses]
    evidence = "".join(str(c.get("text", "")) for c in clauses)
    digits_in_evidence = re.sub(r"\s", "", evidence)
    cited: list[int] = []
    removed: list[str] = []

    def citation(match: re.Match[str]) -> str:
        index = _match_citation(match.group(1), labels)
        if index is None:
            removed.append(match.group(0))
            return ""
        if index not in cited:
            cited.append(index)
        title, article = labels[index]
        return f"〔{title} {article}〕".replace(" 〕", "〕")

    text = _CITATION.sub(citation, answer)

    def unsupported(match: re.Match[str]) -> str:
        value = match.group(0)
        if re.sub(r"\s", "", value) in digits_in_evidence or value == hotline:
            return value
        removed.append(value)
        return REMOVED

    for pattern in (_MONEY, _LIMIT, _PHONE):
        text = pattern.sub(unsupported, text)
    evidence_pairs = _pairs(evidence + question + "".join(f"{t}{a}" for t, a in labels))
    checker = _Claims(clauses, labels, list(cited), question, hotline) if check_claims else None
    text = _sentences_kept(text, evidence_pairs, checker, removed)
    shown = [i for i in dict.fromkeys(_cited_in(text, labels))]
    return Verified(text.strip(), shown if shown or not cited else [], removed)


def _sentences_kept(text: str, evidence_pairs: set[str], checker: _Claims | None, removed: list[str]) -> str:
    """The answer without the sentences the clauses do not support (each one taken out is noted)."""
    kept: list[str] = []
    for line in text.replace("**", "").split("\n"):
        sentences = _ANSWER_SENTENCE.findall(line)
        good = []
        for sentence in sentences:
            if support(sentence, evidence_pairs) < MIN_SUPPORT:
                removed.append(sentence.strip())
                continue
            checked, why = checker.check(sentence) if checker else (sentence, "")
            if why:
                removed.append(why)
            if checked is not None:
                good.append(checked)
        if good or not sentences:
            kept.append("".join(good))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept))


def _cited_in(text: str, labels: Sequence[tuple[str, str]]) -> list[int]:
    found = (_match_citation(m.group(1), labels) for m in _CITATION.finditer(text))
    return [i for i in found if i is not None]


class _Claims:
    """The figures and the yes/no of each answer sentence, against the clause it cites."""

    def __init__(
        self,
        clauses: Sequence[dict[str, Any]],
        labels: Sequence[tuple[str, str]],
        cited: list[int],
        question: str,
        hotline: str,
    ) -> None:
        self.texts = [str(c.get("text", "")) for c in clauses]
        self.figures = [claims.figures(t) for t in self.texts]
        self.pairs = [_pairs(t) for t in self.texts]
        self.named = [_pairs(t) | p for (t, _), p in zip(labels, self.pairs, strict=True)]  # with the title
        self.labels = labels
        self.cited = cited
        self.question = question
        self.asked = claims.figures(question)
        self.hotline = hotline

    def check(self, sentence: str) -> tuple[str | None, str]:
        """The sentence to show (citation moved if need be) or None, and what was taken out."""
        own = _cited_in(sentence, self.labels)
        scope = own or self.cited or list(range(len(self.texts)))
        plain = _PHONE.sub(" ", _CITATION.sub(" ", sentence).replace(REMOVED, " ")).replace(self.hotline, " ")
        plain = _not_facts(plain, self.labels)
        stated = [f for f in claims.figures(plain) if not claims.supported(f, self.asked)]
        missing = [f for f in stated if not claims.supported(f, [e for i in scope for e in self.figures[i]])]
        if missing:
            home = self._homes(sentence, stated)
            if not home:
                return None, f"{sentence.strip()}（数字不见于所引条款：{'、'.join(f.text for f in missing)}）"
            # another retrieved clause holds them: the sentence is cited to that one instead
            sentence, scope = self._cite(sentence, home[0]), [home[0]]
        elif stated and not own and not self.cited:
            # an answer citing nothing: the sentence's figures are cited to the clause that holds them,
            # so the citation shown points at that clause, not at the first one retrieved
            home = self._homes(sentence, stated)
            if home:
                sentence, scope = self._cite(sentence, home[0]), [home[0]]
        share = self._share(sentence)  # citations aside, so moving one leaves it as it is
        sentence, scope = self._better_home(sentence, share, own, scope, stated)
        for i in scope:
            if part := claims.contradicts(sentence, self.texts[i], self.question):
                return None, f"{sentence.strip()}（与所引条款相反：{part}）"
        if self._barely_held(sentence, share, scope):
            return None, f"{sentence.strip()}（所引条款没有这样写）"
        return sentence, ""

    def _homes(self, sentence: str, stated: list[claims.Figure]) -> list[int]:
        """The clauses holding all the sentence's figures, those sharing most of its words (title too) first.

        Two clauses may state one date (two documents in force until 2026年12月31日): the sentence
        naming 专精特新 belongs to the 专精特新 document's clause, not to the first one retrieved.
        """
        found = [i for i, f in enumerate(self.figures) if all(claims.supported(s, f) for s in stated)]
        words = _pairs(_CITATION.sub("", sentence))
        return sorted(found, key=lambda i: (-len(words & self.named[i]), i))

    def _share(self, sentence: str) -> list[float] | None:
        pairs = _pairs(_CITATION.sub("", sentence).replace(REMOVED, "，")) - _STOCK_PAIRS
        if len(pairs) < 6:
            return None
        return [len(pairs & p) / len(pairs) for p in self.pairs]

    def _better_home(
        self,
        sentence: str,
        share: list[float] | None,
        own: list[int],
        scope: list[int],
        stated: list[claims.Figure],
    ) -> tuple[str, list[int]]:
        """The citation moves to a retrieved clause whose own words hold the sentence far better.

        Only the clauses' words count here (the question's do not), and the better clause must hold the
        sentence's figures and not take the other side.
        """
        if share is None or (not own and self.cited):
            return sentence, scope  # too short to tell, or it speaks under the answer's citations
        mine = max(share[i] for i in scope)
        best = max(range(len(share)), key=lambda i: (share[i], -i))
        if (
            best not in scope
            and share[best] >= mine + MOVE_MARGIN
            and all(claims.supported(f, self.figures[best]) for f in stated)
            and not claims.contradicts(sentence, self.texts[best], self.question)
        ):
            return self._cite(sentence, best), [best]
        return sentence, scope

    def _barely_held(self, sentence: str, share: list[float] | None, scope: list[int]) -> bool:
        """A yes or no its cited clause's own words barely hold (under ``MIN_CLAUSE_SUPPORT``).

        The sentence-level support check counts the question's words as evidence, so a yes that only
        restates the question ("是的，残疾人坐公交是免费的" under a parking clause) passes it.
        """
        if share is None or max(share[i] for i in scope) >= MIN_CLAUSE_SUPPORT:
            return False
        return _takes_a_side(sentence)

    def _cite(self, sentence: str, index: int) -> str:
        """The sentence with its citations replaced by clause ``index``'s, before its final stop."""
        title, article = self.labels[index]
        bare = _CITATION.sub("", sentence)
        citation = f"〔{title} {article}〕".replace(" 〕", "〕")
        end = re.search(r"[。！？!?]$", bare)
        return f"{bare[: end.start()]}{citation}{end.group(0)}" if end else bare + citation


# a list's numbering ("1. 停止发放", "2）", "（一）") and a document's name (《…2025年…办法》) state no fact
_ENUMERATION = re.compile(r"^\s*(?:\d{1,2}\s*[.、)）]|[（(][一二三四五六七八九十\d]{1,3}[)）])\s*")
_TITLE = re.compile(r"《([^《》]{2,80})》")


def _not_facts(text: str, labels: Sequence[tuple[str, str]]) -> str:
    titles = {_normal(t) for t, _ in labels}
    text = _ENUMERATION.sub(" ", text)
    return _TITLE.sub(lambda m: " " if any(_normal(m.group(1)) in t for t in titles) else m.group(0), text)


def _takes_a_side(sentence: str) -> bool:
    plain = _CITATION.sub("", sentence)
    return bool(re.match(r"\s*(?:是的|对的|对，|不是|可以|不可以|不能|能，|会|不会)", plain)) or any(
        claims.side(plain, name) for name in ("fee", "allowed", "required")
    )


def has_content(text: str) -> bool:
    """Whether anything but citations is left of an answer."""
    return len("".join(_CJK.findall(_CITATION.sub("", text).replace("依据", "")))) >= 4


# which units answer which kind of question (knowledge.gate's _WANTS: how much, how long, how many)
_KIND_UNITS = {
    "amount": {"元", "%"},
    "time": {"天", "工作日", "个月", "月", "年", "周", "小时", "分钟"},
    "count": {"户", "人", "人次", "名", "位", "次", "套", "%", ""},
}
_PART = re.compile(r"[^。；;！？!?\n]+")
_DATED = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月|施行|有效期")


def omissions(
    answer: str, clauses: Sequence[dict[str, Any]], cited: Sequence[int], question: str = ""
) -> list[tuple[int, str]]:
    """The parts of the cited clauses stating a figure of the kind the answer gives, which it leaves out.

    "租房每月最多提取1500元" over a clause that also says "有登记备案合同的…每月不超过3000元" leaves a
    case out: the answer states an amount in 元 and the clause a second one it does not give. A
    question asking how much, how long or how many counts as an answer about that kind of figure.
    Each omitted part comes back once, with the index of its clause, so the caller can add it verbatim.
    """
    given = claims.figures(_CITATION.sub(" ", answer))
    units = {f.unit for f in given}
    for kind in asked_kinds(question):
        units |= _KIND_UNITS[kind]
    out: list[tuple[int, str]] = []
    for i in cited:
        for part in _PART.findall(str(clauses[i].get("text", ""))):
            if _DATED.search(part):  # when the document took effect: the validity notes speak to that
                continue
            stated = [f for f in claims.figures(part) if f.unit in units]
            if stated and any(not claims.supported(f, given) for f in stated):
                out.append((i, part.strip()))
    return out
