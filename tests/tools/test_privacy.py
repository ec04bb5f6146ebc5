"""Masking personal data."""

from __future__ import annotations

import logging

import pytest

from tools.privacy import MaskingFilter, install_log_masking, mask_pii


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("电话13812345678", "电话138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("身份证110101199003071234", "身份证110101********1234"),
        ("身份证11010119900307123X", "身份证110101********123X"),
        ("座机0571-87654321", "座机0571-****4321"),
        ("卡号6222021234567890123", "卡号6222 **** **** 0123"),
        ("邮箱 zhang.san@example.com", "邮箱 z***@example.com"),
        ("车牌浙A12345", "车牌浙A***45"),
        ("来电人：张三，反映", "来电人：张*，反映"),
        ("联系人：欧阳娜娜。", "联系人：欧***。"),
        ("来电人：李女士，", "来电人：李女士，"),
    ],
)
def test_masks(raw: str, masked: str) -> None:
    assert mask_pii(raw) == masked


@pytest.mark.parametrize(
    "text", ["2024年12月31日", "金额12345678元", "人民路88号3栋", "工单SL2024010100782", ""]
)
def test_leaves_other_numbers(text: str) -> None:
    assert mask_pii(text) == text


def test_log_records_are_masked() -> None:
    logger = logging.getLogger("cityagent.test.masking")
    handler = logging.Handler()
    records: list[logging.LogRecord] = []
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logger.addHandler(handler)
    install_log_masking(logger)
    try:
        logger.warning("caller %s left number %s", "来电人：张三", "13812345678")
    finally:
        logger.removeHandler(handler)
    assert records[0].getMessage() == "caller 来电人：张* left number 138****5678"


def _filtered(name: str, msg: object, *args: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)
    assert MaskingFilter().filter(record)
    return record


def test_the_filter_keeps_arguments_a_formatter_unpacks() -> None:
    from uvicorn.logging import AccessFormatter  # noqa: PLC0415 - uvicorn is the access log's formatter

    record = _filtered("uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                       "/api/x?phone=13812345678", "1.1", 200)  # fmt: skip
    assert isinstance(record.args, tuple) and len(record.args) == 5 and record.args[4] == 200
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s", use_colors=False).format(
        record
    )
    assert line == "127.0.0.1:5000 GET /api/x?phone=138****5678 HTTP/1.1 200 OK"


def test_numbers_and_objects_that_carry_personal_data_are_masked_too() -> None:
    assert _filtered("cityagent", "%d orders", 3).getMessage() == "3 orders"  # %d keeps its number
    assert _filtered("cityagent", "call %d", 13812345678).getMessage() == "call 138****5678"
    assert (
        _filtered("cityagent", "got %s", {"phone": "13812345678"}).getMessage()
        == "got {'phone': '138****5678'}"
    )
    assert _filtered("cityagent", "%(who)s", {"who": "13812345678"}).getMessage() == "138****5678"
