"""The audit log: who did what, when, to which notice or account, with before and after. Append-only."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any


def record(
    db: sqlite3.Connection,
    actor: str,
    action: str,
    target_kind: str | None = None,
    target_id: str | None = None,
    *,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> None:
    """Add one entry; call it inside the transaction that makes the change, so both happen or neither."""
    db.execute(
        "insert into audit_log (at, actor, action, target_kind, target_id, before, after, reason)"
        " values (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            datetime.now(UTC).isoformat(timespec="seconds"),
            actor,
            action,
            target_kind,
            target_id,
            None if before is None else json.dumps(before, ensure_ascii=False, sort_keys=True),
            None if after is None else json.dumps(after, ensure_ascii=False, sort_keys=True),
            reason,
        ),
    )


def entries(db: sqlite3.Connection, limit: int = 200) -> list[dict[str, Any]]:
    return [dict(row) for row in db.execute("select * from audit_log order by id desc limit ?", (limit,))]
