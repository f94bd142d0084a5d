"""Staff accounts: argon2id password hashes, two roles, and a lockout after repeated failed sign-ins."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sync.i18n import tr

from ..local_db import transaction
from . import audit

ROLES = ("staff", "admin")  # staff: notices and duties; admin: also accounts and settings
MIN_PASSWORD = 10
MAX_FAILURES = 5  # failed sign-ins in a row before the account locks
LOCKOUT = timedelta(minutes=15)
# Memory-hard (argon2id, 64 MiB per hash): a stolen local.db does not give passwords away cheaply.
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)


class AccountError(ValueError):
    """An account cannot be made or changed as asked; the message says why."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _now() -> datetime:
    return datetime.now(UTC)


def check_new_password(password: str, name: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(tr("a password needs at least {count} characters", count=MIN_PASSWORD))
    if password.strip().lower() == name.strip().lower():
        raise AccountError(tr("the password must not be the account name"))


def add(db: sqlite3.Connection, name: str, role: str, password: str, actor: str) -> Account:
    """Create an account; the password is kept only as an argon2id hash."""
    name = name.strip()
    if not name or len(name) > 40 or any(not ch.isprintable() for ch in name):
        raise AccountError(tr("an account name is 1 to 40 printable characters"))
    if role not in ROLES:
        raise AccountError(tr("the role must be staff or admin, not {role!r}", role=role))
    check_new_password(password, name)
    try:
        with transaction(db):
            cursor = db.execute(
                "insert into accounts (name, role, password_hash, created_at) values (?, ?, ?, ?)",
                (name, role, _hasher.hash(password), _now().isoformat()),
            )
            account = Account(int(cursor.lastrowid or 0), name, role)
            audit.record(db, actor, "account.add", "account", name, after={"name": name, "role": role})
    except sqlite3.IntegrityError:
        raise AccountError(tr("there is already an account named {name}", name=name)) from None
    return account


class Locked(Exception):
    """Too many failed sign-ins: the account is locked until *until*."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


def sign_in(db: sqlite3.Connection, name: str, password: str, now: datetime | None = None) -> Account | None:
    """Return the account if *password* is right; count failures and lock after MAX_FAILURES.

    :raises Locked: while the account is locked, whatever the password.
    """
    now = now or _now()
    row = db.execute("select * from accounts where name = ? and not disabled", (name.strip(),)).fetchone()
    if row is None:
        _hasher.hash(password)  # the same work as for a real account: timing does not tell names apart
        return None
    if row["locked_until"] and datetime.fromisoformat(row["locked_until"]) > now:
        raise Locked(datetime.fromisoformat(row["locked_until"]))
    try:
        _hasher.verify(row["password_hash"] or "", password)
    except (VerificationError, InvalidHashError):
        failures = row["failed_logins"] + 1
        locked = (now + LOCKOUT).isoformat() if failures >= MAX_FAILURES else None
        with transaction(db):
            db.execute(
                "update accounts set failed_logins = ?, locked_until = ? where id = ?",
                (0 if locked else failures, locked, row["id"]),
            )
            if locked:
                audit.record(db, "-", "account.locked", "account", row["name"], reason=f"{failures} failed sign-ins")
        if locked:
            raise Locked(now + LOCKOUT) from None
        return None
    if row["failed_logins"] or row["locked_until"] or _hasher.check_needs_rehash(row["password_hash"]):
        with transaction(db):
            db.execute(
                "update accounts set failed_logins = 0, locked_until = null, password_hash = ? where id = ?",
                (_hasher.hash(password) if _hasher.check_needs_rehash(row["password_hash"]) else row["password_hash"],
                 row["id"]),
            )  # fmt: skip
    return Account(row["id"], row["name"], row["role"])


def get(db: sqlite3.Connection, account_id: int) -> Account | None:
    row = db.execute("select id, name, role from accounts where id = ? and not disabled", (account_id,)).fetchone()
    return Account(row["id"], row["name"], row["role"]) if row else None


def all_accounts(db: sqlite3.Connection) -> list[dict[str, object]]:
    return [dict(r) for r in db.execute("select id, name, role, created_at, disabled from accounts order by name")]
