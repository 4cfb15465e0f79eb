"""Load a charter from YAML with errors that point at the file, the path and the line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contracts.charter.model import CROSS_REFERENCE_ERROR, Charter, Location
from contracts.errors import CharterError, CharterProblem


def load_charter(path: Path | str) -> Charter:
    """Read and validate a charter file, or raise `CharterError` listing every fault."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CharterError(str(path), [CharterProblem(str(path), "", None, str(exc))]) from exc
    return parse_charter(text, source=str(path))


def parse_charter(text: str, source: str = "<charter>") -> Charter:
    """Validate charter YAML text, or raise `CharterError` listing every fault."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise CharterError(source, [CharterProblem(source, "", line, f"YAML: {exc}")]) from exc
    lines = _line_map(node) if node is not None else {}
    try:
        return Charter.model_validate(document)
    except ValidationError as exc:
        raise CharterError(source, _problems(exc, lines, source)) from exc


def _problems(
    exc: ValidationError, lines: dict[Location, int], source: str
) -> list[CharterProblem]:
    problems: list[CharterProblem] = []
    errors = exc.errors(include_url=False)
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and any(
            len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc
            for other in errors
        ):
            continue  # a list emptied by its failing items: the items' errors say it all
        if error["type"] == CROSS_REFERENCE_ERROR:
            for sub_loc, message in error["ctx"]["problems"]:
                full = (*loc, *sub_loc)
                problems.append(CharterProblem(source, _dotted(full), _line(lines, full), message))
        else:
            problems.append(CharterProblem(source, _dotted(loc), _line(lines, loc), error["msg"]))
    return problems


def _dotted(loc: Location) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(lines: dict[Location, int], loc: Location) -> int | None:
    # Pydantic adds union tags and validator names to locations: walk back to a known node.
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _line_map(root: yaml.Node) -> dict[Location, int]:
    lines: dict[Location, int] = {}

    def walk(node: yaml.Node, loc: Location) -> None:
        lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*loc, _scalar(key)))
                lines[(*loc, _scalar(key))] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*loc, i))

    walk(root, ())
    return lines


def _scalar(node: Any) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "?"


def charter_files(paths: Iterable[Path]) -> list[Path]:
    """Every charter file `paths` name: files as given, directories' `*.yaml` sorted."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return files
