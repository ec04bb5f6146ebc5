"""Masking of personal data in free text: the one place logs, audit records and stored texts use.

What is masked (keeping enough to tell records apart when a caseworker reads them):

===========  ==============================  =====================
kind         example                         masked
===========  ==============================  =====================
ID card      110101199003071234              110101********1234
mobile       13812345678 / +86 138-1234-5678 138****5678
landline     0571-87654321                   0571-****4321
bank card    6222021234567890123             6222 **** **** 0123
email        zhang.san@example.com           z***@example.com
plate        浙A12345 / 粤B·D12345           浙A***45
===========  ==============================  =====================

Names are masked only where the text marks them as the caller (``来电人：张三``, ``联系人：李女士``),
since Chinese names cannot be found reliably by pattern alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_BANK_CARD = re.compile(r"(?<![\d*])(?:\d[ -]?){15,18}\d(?![\d*])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})-(\d{3,4})(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PLATE = re.compile(
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z])[·\s]?([A-Z0-9]{3,4})([A-Z0-9]{2})(?![A-Z0-9])"
)
_CALLER_NAME = re.compile(
    r"((?:来电人|联系人|反映人|诉求人|姓名)[:：]\s*)([\u4e00-\u9fa5]{1,4}?)((?:先生|女士)?)(?=[，,。；;）)\s]|$)"
)


# Loggers whose formatter unpacks record.args (their string arguments are masked one by one).
_ARGS_READ_BY_FORMATTER = frozenset({"uvicorn.access"})


def _mask_name(match: re.Match[str]) -> str:
    prefix, name, title = match.group(1), match.group(2), match.group(3)
    if title:  # 张先生 -> 张先生 is already no more than a surname
        return f"{prefix}{name[0]}{title}" if len(name) == 1 else f"{prefix}{name[0]}*{title}"
    return f"{prefix}{name[0]}{'*' * (len(name) - 1)}"


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"{digits[:4]} **** **** {digits[-4:]}"


def mask_pii(text: str) -> str:
    """``text`` with ID, phone, bank-card, email, plate numbers and marked caller names masked."""
    if not text:
        return text
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(3)[-4:]}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)
    text = _BANK_CARD.sub(_mask_card, text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)
    text = _PLATE.sub(lambda m: f"{m.group(1)}***{m.group(3)}", text)
    return _CALLER_NAME.sub(_mask_name, text)


def _mask_arg(value: object) -> object:
    """A string argument masked; anything else as it is (a ``%d`` still gets its number)."""
    return mask_pii(value) if isinstance(value, str) else value


class MaskingFilter(logging.Filter):
    """A logging filter that masks personal data in every record, keeping its arguments usable.

    The message and each string argument are masked in place, so a formatter that reads
    ``record.args`` itself still works (uvicorn's access formatter unpacks them as a 5-tuple).
    If personal data still shows in the formatted message (a number or an object argument),
    the record is flattened to the masked text, except for the access log's own records.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; never drops one."""
        if isinstance(record.msg, str):
            record.msg = mask_pii(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_mask_arg(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _mask_arg(v) for k, v in record.args.items()}
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed %-format: leave it to the handler to report
            return True
        masked = mask_pii(message)
        if masked != message and record.name not in _ARGS_READ_BY_FORMATTER:
            record.msg, record.args = masked, ()
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Attach :class:`MaskingFilter` to every handler of ``logger`` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
