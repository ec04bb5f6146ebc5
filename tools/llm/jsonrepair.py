"""Turn what a small model says into the JSON it meant, or say why not.

Small models wrap JSON in code fences, add a sentence before it, leave trailing commas
or use full-width punctuation. :func:`extract_json` undoes those common slips and
nothing more: it never invents a field.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _balanced_span(text: str) -> str | None:
    """Return the first balanced ``{...}`` or ``[...]`` span, respecting strings."""
    start = next((i for i, ch in enumerate(text) if ch in "{["), None)
    if start is None:
        return None
    stack: list[str] = []
    in_string = escaped = False
    pairs = {"{": "}", "[": "]"}
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in pairs:
            stack.append(pairs[ch])
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return None
            if not stack:
                return text[start : i + 1]
    return None


def extract_json(text: str) -> Any:
    """Parse the JSON value in ``text``; raise ``ValueError`` saying what was wrong."""
    if not text or not text.strip():
        raise ValueError("the model returned an empty answer")
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    span = _balanced_span(text)
    if span:
        candidates.append(span)
    if not any(ch in text for ch in "{["):
        raise ValueError("no JSON object found in the answer")
    last_error = "no JSON object found in the answer"
    for candidate in candidates:
        for variant in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            try:
                return json.loads(variant)
            except json.JSONDecodeError as exc:
                last_error = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    raise ValueError(last_error)
