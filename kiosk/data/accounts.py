"""Staff accounts: argon2id password hashes, roles, and a lockout after repeated failed sign-ins.

The kiosk's staff console has two roles (ROLES); the county server has the studio's too (COUNTY_ROLES),
and there an editor's or reviewer's work can be kept to one township (the account's township).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kiosk.data import audit
from kiosk.data.transactions import transaction
from sync.contract.i18n import tr

ROLES = ("staff", "admin")  # staff: notices and duties; admin: also accounts and settings
# The county's: staff sees the dashboard; an editor writes content in the studio; a reviewer also approves or
# sends back what editors submit; a publisher also publishes what is approved; an admin may do all and
# manages the accounts. An editor or reviewer may be kept to one township (the account's township).
COUNTY_ROLES = ("staff", "editor", "reviewer", "publisher", "admin")
TOWNSHIP_ROLES = ("editor", "reviewer")
_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # a township's code, as content/schema/county.schema.json has it
MIN_PASSWORD = 10
MAX_FAILURES = 5  # failed sign-ins in a row before the account locks
LOCKOUT = timedelta(minutes=15)
SETUP_LINK_VALID = timedelta(hours=24)  # a one-time set-up link works once, within this time
# Memory-hard (argon2id, 64 MiB per hash): a stolen local.db (or county.db) does not give passwords away cheaply.
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)


class AccountError(ValueError):
    """An account cannot be made or changed as asked; the message says why.

    *code* names the rule broken (stable, so the console can show its own translated message);
    *values* are what that message needs, e.g. ``count`` for ``short_password``.
    """

    def __init__(self, message: str, code: str = "", **values: Any) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


class SetupLinkInvalid(AccountError):
    """A set-up link that does not work: *code* is ``link_unknown``, ``link_used`` or ``link_expired``."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    epoch: int = 0  # the account's session epoch: a session made under another one has ended
    township: str = ""  # a county editor's or reviewer's township, whose content alone they work on; "": all

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _now() -> datetime:
    return datetime.now(UTC)


def check_new_password(password: str, name: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            tr("a password needs at least %(count)s characters", count=MIN_PASSWORD),
            "short_password",
            count=MIN_PASSWORD,
        )
    if password.strip().lower() == name.strip().lower():
        raise AccountError(tr("the password must not be the account name"), "password_is_name")


def _checked_name(name: str, role: str, roles: tuple[str, ...], township: str) -> str:
    """Return *name* as it is stored, after checking it, *role* (one of *roles*) and *township*."""
    name = name.strip()
    if not name or len(name) > 40 or any(not ch.isprintable() for ch in name):
        raise AccountError(tr("an account name is 1 to 40 printable characters"), "bad_name")
    if role not in roles:
        raise AccountError(tr("the role must be one of %(roles)s, not %(role)r", roles=", ".join(roles), role=role),
                           "bad_role", role=role)  # fmt: skip
    if township and role not in TOWNSHIP_ROLES:
        raise AccountError(tr("only an editor or a reviewer is kept to one township, not a %(role)s", role=role),
                           "township_role", role=role)  # fmt: skip
    if township and not _CODE.fullmatch(township):
        raise AccountError(tr("%(township)r is not a township's code (lower-case letters, digits and hyphens)",
                              township=township), "bad_township", township=township)  # fmt: skip
    return name


def _account(row: sqlite3.Row) -> Account:
    """The account in *row* of the accounts table (a kiosk's local.db has no townships)."""
    township = row["township"] if "township" in row.keys() else ""  # noqa: SIM118 - sqlite3.Row has no __contains__
    epoch = row["session_epoch"] if "session_epoch" in row.keys() else 0  # noqa: SIM118
    return Account(row["id"], row["name"], row["role"], epoch, township or "")


def _insert(db: sqlite3.Connection, name: str, role: str, password_hash: str | None, at: str, township: str) -> int:
    """Add the account's row; return its id. Only a county's accounts table has a township column."""
    columns, values = ["name", "role", "password_hash", "created_at"], [name, role, password_hash, at]
    if township:
        columns.append("township")
        values.append(township)
    marks = ", ".join("?" * len(columns))
    sql = f"insert into accounts ({', '.join(columns)}) values ({marks}) returning id"  # noqa: S608 - names above
    [(account_id,)] = db.execute(sql, values).fetchall()
    return int(account_id)


def _name_taken(name: str) -> AccountError:
    return AccountError(tr("there is already an account named %(name)s", name=name), "name_taken", name=name)


def add(
    db: sqlite3.Connection, name: str, role: str, password: str, actor: str,
    roles: tuple[str, ...] = ROLES, township: str = "",
) -> Account:  # fmt: skip
    """Create an account with a role of *roles*; the password is kept only as an argon2id hash."""
    name = _checked_name(name, role, roles, township)
    check_new_password(password, name)
    try:
        with transaction(db):
            account_id = _insert(db, name, role, _hasher.hash(password), _now().isoformat(), township)
            account = Account(account_id, name, role, township=township)
            audit.record(db, actor, "account.add", "account", name, after=_described(account))
    except sqlite3.IntegrityError:
        raise _name_taken(name) from None
    return account


def add_with_setup_link(
    db: sqlite3.Connection, name: str, role: str, actor: str, now: datetime | None = None,
    roles: tuple[str, ...] = ROLES, township: str = "",
) -> tuple[Account, str]:  # fmt: skip
    """Create an account with no usable password; return it and the token of its one-time set-up link."""
    name = _checked_name(name, role, roles, township)
    now = now or _now()
    try:
        with transaction(db):
            account = Account(_insert(db, name, role, None, now.isoformat(), township), name, role, township=township)
            token, expires = _new_setup_link(db, account.id, now)
            after = {**_described(account), "has_password": False, "setup_link_expires": expires}
            audit.record(db, actor, "account.add", "account", name, after=after)
    except sqlite3.IntegrityError:
        raise _name_taken(name) from None
    return account, token


def _described(account: Account) -> dict[str, str]:
    """What the audit log keeps of a new account."""
    return {"name": account.name, "role": account.role, **({"township": account.township} if account.township else {})}


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
    row = db.execute("select * from accounts where name = ? and disabled = 0", (name.strip(),)).fetchone()
    if row is None:
        _hasher.hash(password)  # the same work as for a real account: timing does not tell names apart
        return None
    if row["locked_until"] and datetime.fromisoformat(row["locked_until"]) > now:
        raise Locked(datetime.fromisoformat(row["locked_until"]))
    try:
        _hasher.verify(row["password_hash"] or "", password)
    except (VerificationError, InvalidHashError):
        with transaction(db):  # counted in the write: wrong guesses sent at once, to one process or several, all count
            [(failures,)] = db.execute(
                "update accounts set failed_logins = failed_logins + 1 where id = ? returning failed_logins",
                (row["id"],),
            ).fetchall()
            locked = (now + LOCKOUT).isoformat() if failures >= MAX_FAILURES else None
            if locked:
                db.execute("update accounts set failed_logins = 0, locked_until = ? where id = ?", (locked, row["id"]))
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
    return _account(row)


def get(db: sqlite3.Connection, account_id: int) -> Account | None:
    row = db.execute("select * from accounts where id = ? and disabled = 0", (account_id,)).fetchone()
    return _account(row) if row else None


def end_sessions(db: sqlite3.Connection, account_id: int) -> None:
    """End every session of the account, on every device: each one's cookie names an older epoch now.

    Call it inside the transaction that signs out, sets a password or disables the account.
    """
    db.execute("update accounts set session_epoch = session_epoch + 1 where id = ?", (account_id,))


def sign_out(db: sqlite3.Connection, account_id: int) -> None:
    """Sign the account out everywhere: a copy of a session cookie is worth nothing afterwards."""
    with transaction(db):
        end_sessions(db, account_id)


def all_accounts(db: sqlite3.Connection) -> list[dict[str, object]]:
    """Every account, by name: never its password's hash, only whether it is waiting for one."""
    shown = ("id", "name", "role", "township", "created_at", "disabled", "awaiting_setup", "locked_until")
    rows = db.execute("select *, password_hash is null as awaiting_setup from accounts order by name")
    return [{key: row[key] if key in row.keys() else "" for key in shown} for row in rows]  # noqa: SIM118


def _row(db: sqlite3.Connection, account_id: int) -> sqlite3.Row:
    row = db.execute("select * from accounts where id = ?", (account_id,)).fetchone()
    if row is None:
        raise AccountError(tr("there is no account number %(id)s", id=account_id), "unknown_account", id=account_id)
    return row  # type: ignore[no-any-return]


def _sign_in_state(row: sqlite3.Row) -> dict[str, Any]:
    """What the audit log keeps of an account's sign-in: whether it has a password, never the password."""
    return {"has_password": row["password_hash"] is not None, "failed_logins": row["failed_logins"],
            "locked_until": row["locked_until"]}  # fmt: skip


def disable(db: sqlite3.Connection, account_id: int, actor: Account) -> Account:
    """Disable an account: it cannot sign in, and its open session and set-up link stop working.

    :raises AccountError: for the actor's own account, and for the last enabled admin (someone
        must be left who can manage accounts; checked inside the write, so two admins disabling
        each other at once cannot both succeed).
    """
    if account_id == actor.id:
        raise AccountError(tr("you cannot disable your own account"), "disable_self")
    with transaction(db):
        row = _row(db, account_id)
        if row["disabled"]:
            return _account(row)
        if row["role"] == "admin":
            others = db.execute(
                "select count(*) from accounts where role = 'admin' and disabled = 0 and id != ?", (account_id,)
            ).fetchone()[0]
            if not others:
                raise AccountError(
                    tr("%(name)s is the last admin: add or enable another admin first", name=row["name"]),
                    "last_admin", name=row["name"],
                )  # fmt: skip
        db.execute("update accounts set disabled = 1 where id = ?", (account_id,))
        end_sessions(db, account_id)
        _end_setup_links(db, account_id, _now())
        audit.record(db, actor.name, "account.disable", "account", row["name"],
                     before={"disabled": False}, after={"disabled": True})  # fmt: skip
    return _account(row)


def enable(db: sqlite3.Connection, account_id: int, actor: Account) -> Account:
    """Let a disabled account sign in again."""
    with transaction(db):
        row = _row(db, account_id)
        if not row["disabled"]:
            return _account(row)
        db.execute("update accounts set disabled = 0 where id = ?", (account_id,))
        audit.record(db, actor.name, "account.enable", "account", row["name"],
                     before={"disabled": True}, after={"disabled": False})  # fmt: skip
    return _account(row)


def set_password(db: sqlite3.Connection, account_id: int, password: str, actor: Account) -> None:
    """Give an account a new password chosen by an admin; its lockout and failure count clear."""
    row = _row(db, account_id)
    check_new_password(password, row["name"])
    password_hash = _hasher.hash(password)  # before the write lock: hashing takes a while
    with transaction(db):
        row = _row(db, account_id)
        db.execute(
            "update accounts set password_hash = ?, failed_logins = 0, locked_until = null where id = ?",
            (password_hash, account_id),
        )
        end_sessions(db, account_id)
        _end_setup_links(db, account_id, _now())
        audit.record(db, actor.name, "account.password_reset", "account", row["name"], before=_sign_in_state(row),
                     after={"has_password": True, "failed_logins": 0, "locked_until": None})  # fmt: skip


def change_own_password(db: sqlite3.Connection, account_id: int, current: str, new: str) -> int:
    """Let an account's owner change its password, giving the current one; return the account's new session epoch.

    Every session of the account ends; the owner's own goes on by taking the new epoch.

    :raises AccountError: ``wrong_password``, or a new password that breaks the rules.
    """
    row = _row(db, account_id)
    try:
        _hasher.verify(row["password_hash"] or "", current)
    except (VerificationError, InvalidHashError):
        raise AccountError(tr("the current password is wrong"), "wrong_password") from None
    check_new_password(new, row["name"])
    password_hash = _hasher.hash(new)
    with transaction(db):
        db.execute("update accounts set password_hash = ? where id = ?", (password_hash, account_id))
        end_sessions(db, account_id)
        _end_setup_links(db, account_id, _now())
        audit.record(db, row["name"], "account.password_change", "account", row["name"])
        return int(db.execute("select session_epoch from accounts where id = ?", (account_id,)).fetchone()[0])


def issue_setup_link(db: sqlite3.Connection, account_id: int, actor: Account, now: datetime | None = None) -> str:
    """Take away an account's password and return the token of a new one-time link to choose one.

    Any older link of the account stops working.
    """
    now = now or _now()
    with transaction(db):
        row = _row(db, account_id)
        db.execute(
            "update accounts set password_hash = null, failed_logins = 0, locked_until = null where id = ?",
            (account_id,),
        )
        end_sessions(db, account_id)
        token, expires = _new_setup_link(db, account_id, now)
        audit.record(db, actor.name, "account.setup_link", "account", row["name"], before=_sign_in_state(row),
                     after={"has_password": False, "failed_logins": 0, "locked_until": None,
                            "setup_link_expires": expires})  # fmt: skip
    return token


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _new_setup_link(db: sqlite3.Connection, account_id: int, now: datetime) -> tuple[str, str]:
    """Store a new set-up link for *account_id*; return its token (kept nowhere) and when it expires."""
    _end_setup_links(db, account_id, now)
    token = secrets.token_urlsafe(32)  # 256 bits
    expires = (now + SETUP_LINK_VALID).isoformat(timespec="seconds")
    db.execute(
        "insert into setup_links (account_id, token_hash, created_at, expires_at) values (?, ?, ?, ?)",
        (account_id, _token_hash(token), now.isoformat(timespec="seconds"), expires),
    )
    return token, expires


def _end_setup_links(db: sqlite3.Connection, account_id: int, now: datetime) -> None:
    """Make the account's unused set-up links expire now (a newer link or a password replaces them)."""
    stamp = now.isoformat(timespec="seconds")
    db.execute(
        "update setup_links set expires_at = ? where account_id = ? and used_at is null and expires_at > ?",
        (stamp, account_id, stamp),
    )


def setup_link_account(db: sqlite3.Connection, token: str, now: datetime | None = None) -> Account:
    """Return the account a set-up link is for.

    :raises SetupLinkInvalid: when the link is unknown (or its account disabled), used, or expired.
    """
    now = now or _now()
    if len(token) > 100:  # a real token has 43 characters; nothing longer is looked up
        raise SetupLinkInvalid(tr("this set-up link is not known"), "link_unknown")
    row = db.execute(
        "select setup_links.*, accounts.name, accounts.role from setup_links join accounts"
        " on accounts.id = setup_links.account_id where token_hash = ? and not accounts.disabled",
        (_token_hash(token),),
    ).fetchone()
    if row is None:
        raise SetupLinkInvalid(tr("this set-up link is not known"), "link_unknown")
    if row["used_at"]:
        raise SetupLinkInvalid(tr("this set-up link has already been used"), "link_used")
    if datetime.fromisoformat(row["expires_at"]) <= now:
        raise SetupLinkInvalid(tr("this set-up link has expired"), "link_expired")
    return Account(row["account_id"], row["name"], row["role"])


def use_setup_link(db: sqlite3.Connection, token: str, password: str, now: datetime | None = None) -> Account:
    """Set the password of a set-up link's account and use the link up.

    :raises SetupLinkInvalid: as setup_link_account; :raises AccountError: for a password that breaks the rules.
    """
    now = now or _now()
    account = setup_link_account(db, token, now)
    check_new_password(password, account.name)
    password_hash = _hasher.hash(password)
    with transaction(db):
        account = setup_link_account(db, token, now)  # again inside the write: a link is used once, even by two at once
        before = _sign_in_state(_row(db, account.id))
        db.execute(
            "update accounts set password_hash = ?, failed_logins = 0, locked_until = null where id = ?",
            (password_hash, account.id),
        )
        end_sessions(db, account.id)
        db.execute("update setup_links set used_at = ? where token_hash = ?",
                   (now.isoformat(timespec="seconds"), _token_hash(token)))  # fmt: skip
        audit.record(db, account.name, "account.setup_done", "account", account.name, before=before,
                     after={"has_password": True, "failed_logins": 0, "locked_until": None})  # fmt: skip
    return account
