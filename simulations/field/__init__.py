"""The field simulator: units reporting to their agency services, the crisis cell's desk,
and what reaches the field back (receipts to checked persons, assignments to units)."""

from simulations.field.desk import DESK_UNIT, CrisisCellDesk, DeskReceipt, desk_envelope
from simulations.field.errors import (
    DeskPublishError,
    FieldError,
    ReplyError,
    ReportUndeliveredError,
)
from simulations.field.inbox import DispatchListener, DispatchRecord, ReceiptInbox
from simulations.field.retry import RetryPolicy
from simulations.field.unit import FieldUnit, RetryHook, unit_report

__all__ = [
    "DESK_UNIT",
    "CrisisCellDesk",
    "DeskPublishError",
    "DeskReceipt",
    "DispatchListener",
    "DispatchRecord",
    "FieldError",
    "FieldUnit",
    "ReceiptInbox",
    "ReplyError",
    "ReportUndeliveredError",
    "RetryHook",
    "RetryPolicy",
    "desk_envelope",
    "unit_report",
]
