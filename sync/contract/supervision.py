"""Who supervises a power item on one village's kiosk: a body the item names, or the village's own committee.

A county-wide item cannot name one village's 村务监督委员会: with ``supervision: {village: true}`` it
asks for each village's own, which each kiosk fills from its village's contacts (the first
``kind: supervision`` contact of ``contacts.yaml`` with that ``village:``). content/README.md says how.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from sync.contract.i18n import tr
from sync.contract.kinds import Contact, Supervisor, in_scope

if TYPE_CHECKING:
    from sync.contract.schemas import Problem

Where = tuple[str | int, ...]


def supervision_problem(supervision: Mapping[str, Any]) -> tuple[Where, str] | None:
    """Return what is wrong with an item's supervision (where under it, and why), or None."""
    if "body" in supervision and "phone" not in supervision:
        return ("phone",), tr("missing: a supervision body needs its phone")
    if "phone" in supervision and "body" not in supervision:
        return ("body",), tr("missing: whose phone this is (body)")
    if "body" not in supervision and not supervision.get("village"):
        return (), tr("give body and phone, or village: true for each village's own supervision committee")
    return None


def own_committee(contacts: Iterable[Contact], village_code: str) -> Contact | None:
    """Return the village's own supervision contact: its first of kind supervision, or None."""
    return next((c for c in contacts if c["kind"] == "supervision" and c["scope"] == f"village:{village_code}"), None)


def stand_in(contacts: Iterable[Contact], township_code: str) -> Contact | None:
    """Return who stands in for a village committee missing from contacts: its township's, or the county's."""
    supervising = [c for c in contacts if c["kind"] == "supervision"]
    for scope in (f"township:{township_code}", "county"):
        if found := next((c for c in supervising if c["scope"] == scope), None):
            return found
    return None


def _supervisor(contact: Contact, **marks: bool) -> Supervisor:
    found: dict[str, Any] = {"body": contact["name"], "phone": contact["phone"], **marks}
    if "person" in contact:
        found["person"] = contact["person"]
    return cast(Supervisor, found)


def supervisors(
    supervision: Mapping[str, Any], contacts: list[Contact], village: Mapping[str, str]
) -> list[Supervisor]:
    """Return whom a village's kiosk shows supervising an item: the village's own committee (or, lacking one, its
    township's or the county's supervision contact standing in), then the body the item names. *contacts*: those
    the village shows. Empty when nobody can be named."""
    found: list[Supervisor] = []
    if supervision.get("village"):
        if own := own_committee(contacts, village["code"]):
            found.append(_supervisor(own, own=True))
        elif other := stand_in(contacts, village["township"]):
            found.append(_supervisor(other, stand_in=True))
    if "body" in supervision:
        found.append(Supervisor(body=supervision["body"], phone=supervision["phone"]))
    return found


def supervision_warnings(
    villages: list[dict[str, str]], asking: list[tuple[str, str, int]], contacts: list[Contact]
) -> list[Problem]:
    """Warn of each village that has items asking for its own committee but none in contacts.yaml.

    *asking*: the scope, file and line of every item with ``supervision: {village: true}``.
    """
    warnings = []
    for village in villages:
        if own_committee(contacts, village["code"]) is not None:
            continue
        mine = [(path, line) for scope, path, line in asking if in_scope(scope, village)]
        if not mine:
            continue
        other = stand_in([c for c in contacts if in_scope(c["scope"], village)], village["township"])
        said = dict(village=village["name"], code=village["code"], count=len(mine))
        message = (
            tr("village %(village)s (%(code)s) has no supervision contact of its own in contacts.yaml (kind: "
               "supervision, village: %(code)s): its kiosk shows %(instead)s in its place on the %(count)s items "
               "that name the village's own committee", instead=other["name"], **said)
            if other
            else tr("village %(village)s (%(code)s) has no supervision contact of its own in contacts.yaml (kind: "
                    "supervision, village: %(code)s), nor a township or county one to stand in: the %(count)s items "
                    "that name the village's own committee show no one in its place", **said)
        )  # fmt: skip
        path, line = mine[0]
        from sync.contract.schemas import Problem  # the county's checks: not the kiosk's sync

        warnings.append(Problem(path, line, "supervision.village", message))
    return warnings
