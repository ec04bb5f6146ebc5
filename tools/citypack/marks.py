"""YAML files read with their line numbers, so a validation error names the line to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tools.citypack.errors import Problem

M = TypeVar("M", bound=BaseModel)


def line_at(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The line of the value at ``loc`` (a pydantic error location), or of its nearest parent."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if match is None:
                return line
            node = match[1]
            line = match[0].start_mark.line + 1  # the key's line: where an office looks for it
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def message(error: Any) -> str:
    """A pydantic error as ``where: what`` (``tests.0.facts: unknown enterprise field …``)."""
    where = ".".join(str(p) for p in error["loc"])
    text = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {text}" if where else text


def read_yaml(path: Path, model: type[M], name: str, problems: list[Problem]) -> M | None:
    """``path`` validated as ``model``; None with every problem appended (``name`` is the file's label)."""
    if not path.is_file():
        problems.append(Problem(name, None, "missing (see `cityagent city init` for a commented example)"))
        return None
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, None, f"not UTF-8 text (byte {exc.start})"))
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(Problem(name, mark.line + 1 if mark else None, f"not valid YAML: {exc.problem}"))
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(Problem(name, 1, "expected a mapping of `key: value` lines"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(Problem(name, line_at(node, tuple(e["loc"])), message(e)) for e in exc.errors())
        return None
