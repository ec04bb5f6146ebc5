"""Unified social credit codes (统一社会信用代码, GB 32100-2015)."""

from __future__ import annotations

CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def check_char(first17: str) -> str:
    """The 18th (check) character for the first 17."""
    total = sum(CODE_CHARS.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return CODE_CHARS[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """True when ``code`` has 18 allowed characters and a correct check character."""
    return len(code) == 18 and all(c in CODE_CHARS for c in code) and code[17] == check_char(code[:17])
