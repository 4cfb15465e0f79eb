"""An inject table from a spreadsheet (CSV, UTF-8, comma-separated, a header row).

Columns: `id`, `at` (+HH:MM), `by` (unit or agency), `event` (`incident.reported`),
optional `sector`, `subject`, `objective`, `refused` (reason codes separated by spaces or
`;`), `note`, `payload` (a JSON object), and, for trainers' messages
(`exercise.injected`), `target` and `message` instead of a payload. Every fault names its
line in the table.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from simulations.exercise.errors import ScenarioProblem
from simulations.exercise.model import Inject

REQUIRED: Final = ("id", "at", "by", "event")
OPTIONAL: Final = (
    "sector",
    "subject",
    "objective",
    "refused",
    "note",
    "payload",
    "target",
    "message",
)


def read_inject_table(path: Path) -> tuple[list[tuple[Inject, int]], list[ScenarioProblem]]:
    """The injects of a CSV table with their line numbers, and every fault found."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [ScenarioProblem(source, None, "", f"cannot read the inject table: {exc}")]
    return parse_inject_table(text, source)


def parse_inject_table(
    text: str, source: str = "<table>"
) -> tuple[list[tuple[Inject, int]], list[ScenarioProblem]]:
    """Parse the text of an inject table (see `read_inject_table`)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c and c not in REQUIRED + OPTIONAL]
    problems = [ScenarioProblem(source, 1, "", f"missing column {c!r}") for c in missing]
    problems += [ScenarioProblem(source, 1, c, f"unknown column {c!r}") for c in unknown]
    if missing:
        return [], problems
    injects: list[tuple[Inject, int]] = []
    for row in reader:
        line = reader.line_num
        cells = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(cells.values()):
            continue
        try:
            document = _document(cells)
            injects.append((Inject.model_validate(document), line))
        except _CellError as exc:
            problems.append(ScenarioProblem(source, line, exc.column, exc.message))
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                column = ".".join(str(p) for p in error["loc"])
                problems.append(ScenarioProblem(source, line, column, error["msg"]))
    return injects, problems


class _CellError(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _document(cells: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = {c: cells[c] for c in REQUIRED}
    for column in ("sector", "subject", "objective", "note"):
        if cells.get(column):
            document[column] = cells[column]
    if cells.get("refused"):
        document["refused"] = cells["refused"].replace(";", " ").split()
    payload: dict[str, Any] = {}
    if cells.get("payload"):
        try:
            parsed = json.loads(cells["payload"])
        except ValueError as exc:
            raise _CellError("payload", f"not JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise _CellError("payload", "the payload is a JSON object")
        payload.update(parsed)
    for column in ("target", "message"):
        if cells.get(column):
            payload.setdefault(column, cells[column])
    document["payload"] = payload
    return document
