"""The digest of an exercise run: SHA-256 over what its scenario and seed determine.

A run's timeline records also carry what the run does not determine: its operation id
(each run has its own), event ids (derived from it), stream sequences and the
coordinator's `recordedtime` (wall clock), and a refusal's time (when the coordinator
received the proposal). The digest leaves those out and keeps, in occurrence order:

- per accepted record: occurrence time (UTC), type, agency, unit, sector, subject and
  payload — a payload value that is the id of another record of the run (a CAP update's
  `references`) is replaced by that record's type and occurrence time;
- per refusal, in a second section ordered by content: the refused type, who proposed it,
  with whose credentials, its unit and sector, and its reason codes.

Two runs of the same scenario with the same seed give the same digest; another seed moves
the background patrols and the simulated players' answers, hence another digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import Any, Final

from contracts.events.violations import PerimeterViolated
from services.timeline.domain import TimelineRecord

#: First line of each section.
ACCEPTED_SECTION: Final = "# accepted"
REFUSED_SECTION: Final = "# refused"


def digest_lines(records: Iterable[TimelineRecord]) -> tuple[list[str], list[str]]:
    """The accepted records' lines in occurrence order, and the refusals' lines."""
    listed = list(records)
    references: dict[str, str] = {
        r.envelope.id: f"→{r.envelope.type}@{_utc(r)}"
        for r in listed
        if not isinstance(r.envelope.data, PerimeterViolated)
    }
    accepted: list[tuple[str, str]] = []
    refused: list[str] = []
    for record in listed:
        envelope = record.envelope
        data = envelope.data
        if isinstance(data, PerimeterViolated):
            refused.append(
                _line(
                    [
                        data.proposal_type,
                        data.proposer,
                        data.credentials_agency,
                        envelope.unit,
                        envelope.sector,
                        sorted(reason.code.value for reason in data.reasons),
                    ]
                )
            )
            continue
        payload = _normalised(data.model_dump(mode="json"), references, envelope.id)
        at = _utc(record)
        about = [envelope.type, envelope.agency, envelope.unit, envelope.sector]
        line = _line([at, *about, envelope.subject, payload])
        accepted.append((at, line))
    return [line for _, line in sorted(accepted)], sorted(refused)


def exercise_digest(records: Iterable[TimelineRecord]) -> str:
    """The run's digest (hexadecimal SHA-256; see the module)."""
    accepted, refused = digest_lines(records)
    digest = hashlib.sha256()
    for section, lines in ((ACCEPTED_SECTION, accepted), (REFUSED_SECTION, refused)):
        digest.update(f"{section}\n".encode())
        for line in lines:
            digest.update(line.encode())
            digest.update(b"\n")
    return digest.hexdigest()


def _utc(record: TimelineRecord) -> str:
    return record.envelope.time.astimezone(UTC).isoformat()


def _line(values: list[Any]) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _normalised(value: Any, references: Mapping[str, str], own: str) -> Any:
    if isinstance(value, str) and value != own and value in references:
        return references[value]
    if isinstance(value, list):
        return [_normalised(v, references, own) for v in value]
    if isinstance(value, dict):
        return {k: _normalised(v, references, own) for k, v in value.items()}
    return value
