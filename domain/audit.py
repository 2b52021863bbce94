"""The audit record (R20): who asked, who approved, what, for whom, before and after, result, when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["AuditEntry", "AuditResult"]


class AuditResult(StrEnum):
    REQUESTED = "requested"
    APPLIED = "applied"
    REFUSED = "refused"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    result: AuditResult
    target: str = ""
    approver: str = ""
    before: Any = None
    after: Any = None
    reason: str = ""
    correlation_id: str = ""
    change_set_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)
