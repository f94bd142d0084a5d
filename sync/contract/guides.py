"""Guided questions (我要办 / 智能导办): a tree of plain questions that leads a villager to the right matters.

A guide (guides/<id>.yaml, content/schema/guide.schema.json) asks its first question first; each
answer leads to another question or to an ending, which names the power items, catalogue items,
notices and contacts to go to and says what to do next. Checked here as procedures are
(procedure.py): every answer leads somewhere that exists, nothing goes round in circles, every
question and ending is reached, and everything an ending names is shown in every village that
shows the guide. A villager's way through is the answers taken, by number: '2-1-1' (walk).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sync.contract.i18n import tr
from sync.contract.kinds import Guide, GuideEnding, GuideQuestion

if TYPE_CHECKING:  # the county's checks; the screens walking a guide never load jsonschema and yaml
    from sync.contract.checks import FolderReader

Where = tuple[str | int, ...]
REFERENCES = ("powers", "catalogue", "notices", "contacts")  # what an ending may name, in the order shown
_SOURCES = {"powers": "powers/", "catalogue": "catalogue/", "notices": "notices/", "contacts": "contacts.yaml"}
_ANSWERS = re.compile(r"^[1-6](?:-[1-6]){0,99}$")  # 2 to 6 answers a question, at most 100 questions deep


def county_guides(
    reader: FolderReader,
    places: dict[str, set[str]] | None,
    villages: list[dict[str, str]],
    items: Mapping[str, Sequence[Any]],
) -> list[Guide]:
    """Read and check every guides/*.yaml, its problems told to *reader*; return the sound guides.

    *items* holds the county's items of each kind of REFERENCES (each with its id, and its scope but for
    the catalogue, which is county-wide); *villages* every village (code, name, township).
    """
    scopes = {kind: {item["id"]: item.get("scope", "county") for item in items[kind]} for kind in REFERENCES}
    # An item whose own file has a problem is left out of *items*: that problem is told, not also "no such item".
    broken = {kind for kind, source in _SOURCES.items() if any(p.path.startswith(source) for p in reader.problems)}
    guides: list[Guide] = []
    seen: dict[str, str] = {}
    for source in reader.read_folder("guides", ".yaml", "guide"):
        data = source.data
        reader.check_unique(seen, data["id"], source, ("id",), tr("guide id"))
        scope = reader.check_scope(source, places)
        found = graph_problems(data)
        found += reference_problems(scope, data["endings"], scopes, villages if places is not None else [], broken)
        for where, message in found:
            reader.problem(source, where, message)
        if not found:
            guide = {key: value for key, value in data.items() if key not in ("village", "township")}
            guides.append(cast(Guide, {**guide, "scope": scope}))
    return guides


def graph_problems(data: dict[str, Any]) -> list[tuple[Where, str]]:
    """Return what is wrong with a guide's questions and endings (its schema checked), as (field path, message).

    Ids unique among questions and endings; every answer leads to one of them; no way round in circles;
    every question and ending reached from the first question; every ending names something.
    """
    problems: list[tuple[Where, str]] = []
    places: dict[str, Where] = {}
    for kind in ("questions", "endings"):
        for index, entry in enumerate(data[kind]):
            if entry["id"] in places:
                other = places[entry["id"]]
                message = tr("id %(id)r is already used by %(other)s", id=entry["id"], other=_spelt(other))
                problems.append(((kind, index, "id"), message))
            else:
                places[entry["id"]] = (kind, index)
    known = ", ".join(places)
    for q, question in enumerate(data["questions"]):
        for a, answer in enumerate(question["answers"]):
            if answer["to"] not in places:
                message = tr("%(id)r is no question or ending of this guide; it has: %(known)s", id=answer["to"],
                             known=known)  # fmt: skip
                problems.append((("questions", q, "answers", a, "to"), message))
    for e, ending in enumerate(data["endings"]):
        if not any(key in ending for key in REFERENCES):
            message = tr("names nothing to go to: give powers, catalogue, notices or contacts (at least one)")
            problems.append((("endings", e), message))
    if problems:
        return problems
    problems += _circles(data)
    if problems:
        return problems
    reached = _reached(data)
    for kind, message in (
        ("questions", tr("no answer leads to this question: it is never asked")),
        ("endings", tr("no answer leads to this ending: nobody reaches it")),
    ):
        for index, entry in enumerate(data[kind]):
            if entry["id"] not in reached:
                problems.append(((kind, index, "id"), message))
    return problems


def _spelt(where: Where) -> str:
    kind, index = where
    return tr("question %(number)s", number=int(index) + 1) if kind == "questions" else tr(
        "ending %(number)s", number=int(index) + 1)  # fmt: skip


def _circles(data: dict[str, Any]) -> list[tuple[Where, str]]:
    """Return each answer that leads back to a question already asked on the way to it."""
    questions = {question["id"]: (q, question) for q, question in enumerate(data["questions"])}
    problems: list[tuple[Where, str]] = []
    done: set[str] = set()
    # Depth first, without recursion: (question id, next answer to follow); the stack is the way taken.
    for start in questions:
        if start in done:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        on_way = {start}
        while stack:
            current, following = stack[-1]
            q, question = questions[current]
            if following == len(question["answers"]):
                stack.pop()
                on_way.discard(current)
                done.add(current)
                continue
            stack[-1] = (current, following + 1)
            target = question["answers"][following]["to"]
            if target in on_way:
                message = tr("leads back to question %(id)r, asked before this one: the questions would go round in"
                             " circles", id=target)  # fmt: skip
                problems.append((("questions", q, "answers", following, "to"), message))
            elif target in questions and target not in done:
                stack.append((target, 0))
                on_way.add(target)
    return problems


def _reached(data: dict[str, Any]) -> set[str]:
    questions = {question["id"]: question for question in data["questions"]}
    first = data["questions"][0]["id"]
    found, todo = {first}, [first]
    while todo:
        for answer in questions[todo.pop()]["answers"]:
            if answer["to"] not in found:
                found.add(answer["to"])
                if answer["to"] in questions:
                    todo.append(answer["to"])
    return found


def reaches(scope: str, village: dict[str, str]) -> bool:
    """Whether content with *scope* ('county', 'township:X', 'village:Y') is shown in *village* (code, township)."""
    return scope in ("county", f"township:{village['township']}", f"village:{village['code']}")


def reference_problems(
    guide_scope: str,
    endings: list[dict[str, Any]],
    scopes: dict[str, dict[str, str]],
    villages: list[dict[str, str]],
    unsure: Set[str] = frozenset(),
) -> list[tuple[Where, str]]:
    """Return each thing an ending names that does not exist, or is not shown in every village showing the guide.

    *scopes* gives, for each kind of REFERENCES, every id with its scope; *villages* every village (code,
    name, township); an id of a kind in *unsure* (its files have problems of their own) may exist unread.
    """
    shown_in = [village for village in villages if reaches(guide_scope, village)]
    problems: list[tuple[Where, str]] = []
    for e, ending in enumerate(endings):
        for kind in REFERENCES:
            for n, item_id in enumerate(named(ending, kind)):
                where: Where = ("endings", e, kind, n)
                scope = scopes[kind].get(item_id)
                if scope is None:
                    if kind not in unsure:
                        problems.append((where, _unknown(kind, item_id)))
                    continue
                missing = [village["name"] for village in shown_in if not reaches(scope, village)]
                if missing:
                    message = tr(
                        "%(id)r is not shown in %(villages)s, which show this guide: give the guide the same village"
                        " or township as the item, or name another item", id=item_id, villages="、".join(missing[:5])
                        + ("…" if len(missing) > 5 else ""),
                    )  # fmt: skip
                    problems.append((where, message))
    return problems


def named(ending: Mapping[str, Any], kind: str) -> list[str]:
    """The ids *ending* names of one kind of REFERENCES ('powers', ...), in its order."""
    return list(ending.get(kind, []))


def _unknown(kind: str, item_id: str) -> str:
    if kind == "powers":
        return tr("no power item %(id)r in powers/", id=item_id)
    if kind == "catalogue":
        return tr("no catalogue item %(id)r in catalogue/", id=item_id)
    if kind == "notices":
        return tr("no notice %(id)r in notices/", id=item_id)
    return tr("no contact %(id)r in contacts.yaml", id=item_id)


@dataclass
class GuideStep:
    """Where a villager's answers have led in a guide: a question to answer, or an ending."""

    guide: Guide
    answers: tuple[int, ...]  # the answers taken, by number (1 for the first), in order
    trail: list[tuple[GuideQuestion, str]] = field(default_factory=list)  # each question asked, the answer given
    question: GuideQuestion | None = None
    ending: GuideEnding | None = None

    @property
    def number(self) -> int:
        """This step's number in the guide, its first question being 1."""
        return len(self.answers) + 1

    def path(self, answers: tuple[int, ...] | None = None) -> str:
        """The answers (these, or *answers*) as the address carries them: '2-1-1', '' for none."""
        return "-".join(map(str, self.answers if answers is None else answers))

    def after(self, number: int) -> str:
        """The path after answering this question with answer *number*."""
        return self.path((*self.answers, number))

    def before(self) -> str:
        """The path of the question before this step ('' for the first question)."""
        return self.path(self.answers[:-1])


def walk(guide: Guide, path: str) -> GuideStep | None:
    """Follow the answers *path* ('' for none, '2-1-1') from the guide's first question; None when it leads nowhere."""
    if path and not _ANSWERS.match(path):
        return None
    questions = {question["id"]: question for question in guide["questions"]}
    endings = {ending["id"]: ending for ending in guide["endings"]}
    step = GuideStep(guide, tuple(int(part) for part in path.split("-")) if path else ())
    question: GuideQuestion | None = guide["questions"][0]
    for number in step.answers:
        if question is None or number > len(question["answers"]):
            return None  # past an ending, or an answer the question does not have (content changed since)
        answer = question["answers"][number - 1]
        step.trail.append((question, answer["answer"]))
        question = questions.get(answer["to"])
        if question is None:
            step.ending = endings.get(answer["to"])
            if step.ending is None:
                return None  # checked content never leads nowhere
    step.question = question
    return step
