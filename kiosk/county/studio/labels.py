"""What the studio's forms call each field of the content, and the hint beneath it (zh and en)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

LABELS: dict[str, Any] = {
    "id": _l("Id (made from the name; only lower-case letters, digits and hyphens)"),
    "name": _l("Name of the matter"),
    "category": _l("Category"),
    "village": _l("Only for this village"),
    "township": _l("Only for this township"),
    "summary": _l("Summary"),
    "keywords": _l("Other names villagers search by"),
    "basis": _l("Basis (laws and rules)"),
    "responsible": _l("Responsible body"),
    "participants": _l("Who takes part"),
    "materials": _l("What to bring"),
    "fee": _l("Fee"),
    "time_limit": _l("Time limit"),
    "disclosure": _l("Disclosure"),
    "content": _l("What is disclosed"),
    "where": _l("Where"),
    "when": _l("When"),
    "supervision": _l("Supervision"),
    "body": _l("Supervising body"),
    "phone": _l("Supervision phone"),
    "risks": _l("Risk points"),
    "point": _l("Risk point"),
    "control": _l("How it is prevented"),
    "accountability": _l("Accountability"),
    "steps": _l("Procedure"),
    "title": _l("Step"),
    "actor": _l("Who does it"),
    "description": _l("Details"),
    "contacts": _l("Contacts"),
    "kind": _l("Kind"),
    "person": _l("Person"),
    "hours": _l("Hours"),
    "intro": _l("Introduction"),
    "items": _l("Entries"),
    "photo": _l("Photo (a file in media/)"),
    "duties": _l("Disclosure duties"),
    "domain": _l("Domain"),
    "every": _l("Every"),
    "due_day": _l("Due by this day of the next month"),
    "due_working_days": _l("Due within this many working days"),
    "within_working_days": _l("Within this many working days of the event"),
    "since": _l("Owed since (YYYY-MM-DD)"),
    "area": _l("Area"),
    "level1": _l("First-level matter"),
    "level2": _l("Second-level matter"),
    "channels": _l("Channels"),
    "audience": _l("Audience"),
    "mode": _l("Mode"),
    "level": _l("Level"),
    "published": _l("Posted from (YYYY-MM-DD, or with a time)"),
    "expires": _l("Taken down after (YYYY-MM-DD)"),
    "pinned": _l("Pinned at the top"),
    "min_posting_days": _l("Posted for at least this many working days"),
    "photos": _l("Photos (files in media/, one per line)"),
    "duty": _l("The disclosure duty it fulfils (its id in duties.yaml)"),
    "period": _l("The duty's period (e.g. 2026-10, 2026-Q3)"),
}

BY_KIND: dict[str, dict[str, Any]] = {  # where a kind's field means something else than LABELS says
    "notice": {"title": _l("Title")},
    "duties": {"title": _l("Title")},
    "ten_ones": {"title": _l("Title")},
    "contacts": {"name": _l("Name"), "phone": _l("Phone")},
    "catalogue": {"body": _l("Who discloses")},
    "guide": {
        "id": _l("Id (made from the title; only lower-case letters, digits and hyphens)"),
        "title": _l("What the villager wants, in their words (生活困难，想申请补助)"),
        "summary": _l("A line under it: the matters it leads to"),
        "village": _l("Only for this village"),
        "questions": _l("Questions (the first is asked first)"),
        "questions.id": _l("Question id (empty: made from the question)"),
        "ask": _l("The question, short and plain"),
        "help": _l("A line under the question that helps to answer it"),
        "answers": _l("Answers (2 to 6)"),
        "answer": _l("The words on the button"),
        "to": _l("leads to"),
        "endings": _l("Endings"),
        "endings.id": _l("Ending id (empty: made from its title)"),
        "endings.title": _l("What the answers led to (可以申请最低生活保障)"),
        "what_next": _l("What to do next: where to go, what to bring"),
        "powers": _l("Power items to open (their ids, one a line)"),
        "catalogue": _l("Catalogue items (their ids, one a line)"),
        "notices": _l("Notices (their ids, one a line)"),
        "contacts": _l("Contacts to call (their ids in contacts.yaml, one a line)"),
    },
    "calendar": {
        "year": _l("Year"),
        "notice": _l("The State Council's notice it was checked against"),
        "statutory_only": _l("Only the holidays the law fixes: the notice is not out yet"),
        "checked": _l("Every day has been compared with the notice"),
        "source": _l("Made from"),
        "holidays": _l("Holidays (days off, weekend days of the run included)"),
        "name": _l("Holiday"),
        "first": _l("First day off"),
        "last": _l("Last day off (empty: one day)"),
        "working_days": _l("Make-up working days (调休上班: a Saturday or Sunday worked)"),
        "date": _l("Day worked"),
        "working_days.name": _l("For the holiday"),
    },
    "county": {
        "code": _l("Code (lower-case letters, digits and hyphens; kiosks and addresses use it)"),
        "name": _l("Name"),
        "sample": _l("Demo data: every kiosk screen shows a 示例 mark"),
        "public_base_url": _l("Address of the county's phone pages (the QR codes point there)"),
        "timezone": _l("Time zone (empty: Asia/Shanghai)"),
        "townships": _l("Townships"),
        "villages": _l("Villages"),
    },
}


def labels_of(kind: str) -> dict[str, Any]:
    """The labels of a kind's form: LABELS, with the kind's own words where its fields mean something else (a
    key with dots, "endings.title", is a field where it is: the form looks for it first)."""
    return {**LABELS, **BY_KIND.get(kind, {})}


ROWS: dict[str, Any] = {  # each row of these lists headed by its number
    "questions": _l("Question %(number)s"),
    "questions.answers": _l("Answer %(number)s"),
    "endings": _l("Ending %(number)s"),
    "holidays": _l("Holiday %(number)s"),
    "working_days": _l("Make-up working day %(number)s"),
}

SECTIONS: dict[str, dict[str, Any]] = {  # what the item pages of each kind are called
    "powers": {"list": _l("Small-power list"), "new": _l("New power item"), "write": _l("Write a new power item")},
    "notices": {"list": _l("Notices"), "new": _l("New notice"), "write": _l("Write a new notice")},
    "guides": {"list": _l("Guided questions (我要办)"), "new": _l("New guide"), "write": _l("Write a new guide")},
}


CHOICES: dict[str, Any] = {  # the schemas' choices written in English, as the page says them
    "supervision": _l("supervision"),
    "hotline": _l("hotline"),
    "office": _l("office"),
    "month": _l("every month"),
    "quarter": _l("every quarter"),
    "half-year": _l("every half year"),
    "year": _l("every year"),
}

HINTS: dict[str, Any] = {
    "keywords": _l("One per line, e.g. 低保 for 最低生活保障"),
    "basis": _l("One law or rule per line"),
    "participants": _l("One per line"),
    "materials": _l("One document per line"),
    "accountability": _l("One per line"),
    "phone": _l("Digits and hyphens, e.g. 0571-12345678"),
    "village": _l("Leave both empty for the whole county"),
    "powers": _l("e.g. dibao-shenqing: the id is in the item's address in the studio, /studio/powers/<id>"),
    "contacts": _l("e.g. xian-minzheng-jiuzhu, as in the county's contacts"),
    "questions.id": _l("Answers lead to it by this id: leave it as it is once answers lead here"),
    "endings.id": _l("Answers lead to it by this id: leave it as it is once answers lead here"),
    "date": _l("A Saturday or Sunday, as the notice says"),
}

THEN: dict[str, Any] = {
    "next": _l("then the next step in the list"),
    "end": _l("then the procedure ends"),
    "goto": _l("then go to another step"),
    "decide": _l("then a decision with outcomes"),
}
