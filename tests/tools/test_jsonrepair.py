"""Recovering the JSON a small model meant."""

from __future__ import annotations

import pytest

from tools.llm.jsonrepair import extract_json


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": "街道"}\n```', {"a": "街道"}),
        ('答案是：{"a": [1, 2,], "b": {"c": "}"},} 以上。', {"a": [1, 2], "b": {"c": "}"}}),
        ('[{"x": 1}]', [{"x": 1}]),
        ('前言 {"s": "含有\\"引号\\"和{括号}"} 后记', {"s": '含有"引号"和{括号}'}),
    ],
)
def test_extracts(text: str, expected: object) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize(
    ("text", "message"), [("", "empty"), ("没有JSON", "no JSON"), ('{"a": 1', "invalid JSON")]
)
def test_says_what_was_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        extract_json(text)
