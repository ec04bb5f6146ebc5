"""Masking of personal data in free text: the one place logs, audit records and stored texts use.

What is masked (keeping enough to tell records apart when a caseworker reads them):

===========  ==============================  =====================
kind         example                         masked
===========  ==============================  =====================
ID card      110101199003071234              110101********1234
mobile       13812345678 / +86 138-1234-5678 138****5678
landline     0571-87654321 / 057187654321    0571-****4321 / 0571****4321
bank card    6222021234567890123             6222 **** **** 0123
email        zhang.san@example.com           z***@example.com
plate        浙A12345 / 粤B·D12345           浙A***45
===========  ==============================  =====================

An 18-character number is a resident ID (GB 11643: ISO 7064 MOD 11-2 check, a birth date inside) or a
unified social credit code (GB 32100-2015: mod-31 check character). Credit codes are public and name
an enterprise, so a valid one is left as it is: but only when it is not also a valid ID number and, when
all digits, not also a Luhn-valid bank card nor digits with a birth date where an ID has it (a mistyped
ID number). Anything else shaped like an ID number is masked.

Names are masked only where the text marks them as the caller (``来电人：张三``, ``联系人：李女士``),
since Chinese names cannot be found reliably by pattern alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date

from tools.enterprises.credit_code import is_valid as is_credit_code

_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_BANK_CARD = re.compile(r"(?<![\d*])(?:\d[ -]?){15,18}\d(?![\d*])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})-(\d{3,4})(\d{4})(?!\d)")
_LANDLINE_PLAIN = re.compile(r"(?<![\d*])(0[1-9]\d{8,10})(?![\d*])")  # 010xxxxxxxx … 0571xxxxxxxx
_EIGHTEEN = re.compile(r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{18}(?![0-9A-Za-z])")
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PLATE = re.compile(
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z])[·\s]?([A-Z0-9]{3,4})([A-Z0-9]{2})(?![A-Z0-9])"
)
_CALLER_NAME = re.compile(
    r"((?:来电人|联系人|反映人|诉求人|姓名)[:：]\s*)([\u4e00-\u9fa5]{1,4}?)((?:先生|女士)?)(?=[，,。；;）)\s]|$)"
)


# Loggers whose formatter unpacks record.args (their string arguments are masked one by one).
_ARGS_READ_BY_FORMATTER = frozenset({"uvicorn.access"})


def id_check_char(first17: str) -> str:
    """The 18th character of a resident ID for its first 17 digits (ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_resident_id(text: str) -> bool:
    """True for an 18-character resident ID: 17 digits, the right check character, a real birth date."""
    code = text.upper()
    if len(code) != 18 or not code[:17].isdigit() or code[17] != id_check_char(code[:17]):
        return False
    return _birth_date(code[6:14])


def _birth_date(digits: str) -> bool:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def is_public_credit_code(text: str) -> bool:
    """A valid unified social credit code that cannot be read as an ID number or a bank card.

    Digits with a birth date where an ID has one are taken for a mistyped ID number, not a code.
    """
    code = text.upper()
    if not is_credit_code(code) or is_resident_id(code):
        return False
    if code[:17].isdigit() and _birth_date(code[6:14]):
        return False
    return not (code.isdigit() and _luhn(code))


def mask_phone(digits: str) -> str:
    """A call-back number (digits only, as a report keeps it) masked: ``138****5678``, ``0571****4321``."""
    digits = re.sub(r"\D", "", digits)
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:-8]}****{digits[-4:]}"


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
    kept: list[str] = []  # public credit codes, kept out of reach of the number patterns below

    def _keep(match: re.Match[str]) -> str:
        if not is_public_credit_code(match.group(0)):
            return match.group(0)
        kept.append(match.group(0))
        return f"\x00{chr(0xE000 + len(kept) - 1)}\x00"

    text = _EIGHTEEN.sub(_keep, text)
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(3)[-4:]}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)
    text = _LANDLINE_PLAIN.sub(lambda m: mask_phone(m.group(1)), text)
    text = _BANK_CARD.sub(_mask_card, text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)
    text = _PLATE.sub(lambda m: f"{m.group(1)}***{m.group(3)}", text)
    text = _CALLER_NAME.sub(_mask_name, text)
    for i, code in enumerate(kept):
        text = text.replace(f"\x00{chr(0xE000 + i)}\x00", code)
    return text


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
