"""Masking personal data."""

from __future__ import annotations

import logging

import pytest

from tools.privacy import install_log_masking, mask_pii


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
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    install_log_masking(logger)
    try:
        logger.warning("caller %s left number %s", "来电人：张三", "13812345678")
    finally:
        logger.removeHandler(handler)
    assert records[0].getMessage() == "caller 来电人：张* left number 138****5678"
