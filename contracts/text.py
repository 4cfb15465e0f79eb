"""Bounded text types: no control characters, bounded length."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

_NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"

#: A label on one line (names, references, headlines).
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)
]
#: A free description: several lines allowed, no other control character.
FreeText = Annotated[str, StringConstraints(max_length=2000, pattern=_NO_CONTROL)]
#: A reference to an order, an authorisation or a file.
Reference = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]
