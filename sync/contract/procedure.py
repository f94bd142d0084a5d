"""Procedure steps of a small-power item: expand standard procedures, resolve where each leads."""

from __future__ import annotations

from typing import Any

from sync.contract.i18n import tr

# The six steps of 四议两公开, in order (the Organic Law of
# Villagers' Committees, Art. 24). Content text: shown as written, in Chinese.
FOUR_TWO = "四议两公开"
FOUR_TWO_STEPS: list[dict[str, str]] = [
    {
        "title": "党支部提议",
        "actor": "村党组织（党支部）",
        "description": "村党组织在广泛听取意见的基础上提出初步意见。",
    },
    {
        "title": "村“两委”商议",
        "actor": "村党组织和村民委员会",
        "description": "村“两委”联席会议对提议进行讨论，形成商议意见。",
    },
    {
        "title": "党员大会审议",
        "actor": "村党员大会",
        "description": "到会党员须达应到会人数的三分之二以上，经应到会党员过半数同意。",
    },
    {
        "title": "村民会议或村民代表会议决议",
        "actor": "村民会议或村民代表会议",
        "description": (
            "村民会议须本村十八周岁以上村民过半数或三分之二以上户代表参加，"
            "村民代表会议须三分之二以上组成人员参加；经到会人员过半数同意。"
        ),
    },
    {"title": "决议公开", "actor": "村民委员会", "description": "决议内容通过村务公开栏、电子屏等及时公开。"},
    {"title": "实施结果公开", "actor": "村民委员会", "description": "实施过程和结果及时向村民公开，接受监督。"},
]


PASSED = "通过"  # the way on from a 四议两公开 step that has other outcomes (content text, shown as written)


def expand_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return *steps* with every standard-procedure step replaced by its six steps.

    Each returned step has ``id``, ``title``, ``actor`` and ``goes_to``: a list of
    ``{"when": label or None, "to": step id}``; an empty list ends the path. A block's step with
    ``outcomes`` becomes a decision: PASSED to the block's next step, then each outcome.
    """
    expanded: list[dict[str, Any]] = []
    alias: dict[str, str] = {}  # a jump to a standard procedure lands on its first step
    for step in steps:
        if step.get("procedure") == FOUR_TWO:
            ids = block_ids(step["id"])
            alias[step["id"]] = ids[0]
            for n, standard in enumerate(FOUR_TWO_STEPS):
                part = {"id": ids[n], **standard, "procedure": FOUR_TWO, "procedure_step": n + 1}
                others = [{"when": o["when"], "to": o["to"]} for o in step.get("outcomes", []) if o["step"] == n + 1]
                if n == 5:
                    part.update({k: step[k] for k in ("next", "end") if k in step})
                elif others:
                    part["branches"] = [{"when": PASSED, "to": ids[n + 1]}, *others]
                else:
                    part["next"] = ids[n + 1]
                expanded.append(part)
        else:
            expanded.append(dict(step))
    for index, step in enumerate(expanded):
        following = expanded[index + 1]["id"] if index + 1 < len(expanded) else None
        if step.get("branches"):
            targets = [(b["when"], b["to"]) for b in step["branches"]]
        elif step.get("end") or (following is None and "next" not in step):
            targets = []
        else:
            targets = [(None, step.get("next", following))]
        step["goes_to"] = [{"when": when, "to": alias.get(to, to)} for when, to in targets]
        for key in ("branches", "next", "end"):
            step.pop(key, None)
    return expanded


def block_ids(block_id: str) -> list[str]:
    """Return the ids of a 四议两公开 block's six steps: <id>-1 … <id>-6."""
    return [f"{block_id}-{n}" for n in range(1, 7)]


def step_ids(steps: list[dict[str, Any]]) -> set[str]:
    """Return every step id *steps* defines once expanded, before expansion."""
    ids: set[str] = set()
    for step in steps:
        if step.get("procedure") == FOUR_TWO:
            ids.update(block_ids(step["id"]))
        ids.add(str(step.get("id")))
    return ids


def procedure_problems(steps: list[dict[str, Any]]) -> list[tuple[tuple[str | int, ...], str]]:
    """Return what is wrong with an item's steps, each as (field path, message).

    Checks what the schema cannot: ids unique (standard-procedure steps included), targets that
    exist, one way on per step, every step reachable from the first, and a way to an end from
    every step (a loop back for corrections is fine; a loop with no way out is not).
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    written_at: dict[str, int] = {}  # every id, expanded ones too -> index of the written step
    defined = step_ids(steps)
    for index, step in enumerate(steps):
        ids = [step["id"]]
        if step.get("procedure") == FOUR_TWO:
            ids += block_ids(step["id"])
        for step_id in ids:
            if step_id in written_at:
                other = written_at[step_id] + 1
                problems.append(
                    (
                        ("steps", index, "id"),
                        tr("step id %(id)r is already used by step %(other)s", id=step_id, other=other),
                    )
                )
            written_at.setdefault(step_id, index)
        ways = [key for key in ("next", "end", "branches") if key in step]
        if len(ways) > 1:
            problems.append(
                (
                    ("steps", index, ways[1]),
                    tr("give only one of next, end and branches, not %(given)s", given=" + ".join(ways)),
                )
            )
        targets: list[tuple[tuple[str | int, ...], str]] = [(("next",), step["next"])] if "next" in step else []
        targets += [(("branches", n, "to"), b["to"]) for n, b in enumerate(step.get("branches", []))]
        targets += [(("outcomes", n, "to"), o["to"]) for n, o in enumerate(step.get("outcomes", []))]
        problems += [(("steps", index, *where), message) for where, message in _skipping_outcomes(step)]
        for key, target in targets:
            if target not in defined:
                known = ", ".join(s["id"] for s in steps)
                problems.append(
                    (
                        ("steps", index, *key),
                        tr("step %(id)r does not exist in this item; steps: %(known)s", id=target, known=known),
                    )
                )
    if problems:
        return problems
    problems += _fall_through_problems(steps)
    expanded = expand_steps(steps)
    leads_to = {s["id"]: [g["to"] for g in s["goes_to"]] for s in expanded}
    reached = _reachable([expanded[0]["id"]], leads_to)
    comes_from: dict[str, list[str]] = {s["id"]: [] for s in expanded}
    for source, followers in leads_to.items():
        for follower in followers:
            comes_from[follower].append(source)
    can_end = _reachable([s["id"] for s in expanded if not s["goes_to"]], comes_from)
    reported: set[int] = set()
    for step in expanded:
        index = written_at[step["id"]]
        if index in reported:
            continue
        if step["id"] not in reached:
            problems.append(
                (("steps", index, "id"), tr("no step leads here: it cannot be reached from the first step"))
            )
            reported.add(index)
        elif step["id"] not in can_end:
            problems.append(
                (("steps", index, "id"), tr("from here the procedure never ends: it loops with no way out"))
            )
            reported.add(index)
    return problems


def _skipping_outcomes(step: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """An outcome inside a 四议两公开 block may go back (to an earlier step of the block, or before it) or leave
    the block, never skip ahead inside it: every decision that carries the mark passes all six steps."""
    ids = block_ids(step["id"])
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for n, outcome in enumerate(step.get("outcomes", [])):
        if outcome["to"] in ids and ids.index(outcome["to"]) + 1 > outcome["step"]:
            message = tr(
                "an outcome of step %(step)s of 四议两公开 cannot lead on to step %(to)s: that skips the steps in "
                "between (or is the way on, 通过). Go back to an earlier step (%(back)s) or out of the block",
                step=outcome["step"], to=ids.index(outcome["to"]) + 1,
                back=", ".join(ids[: max(1, outcome["step"] - 1)]),
            )  # fmt: skip
            problems.append((("outcomes", n, "to"), message))
    return problems


def _fall_through_problems(steps: list[dict[str, Any]]) -> list[tuple[tuple[str | int, ...], str]]:
    """A decision's outcome that says nothing of where it goes runs on, in list order, into the next
    step written; when that is another outcome of the same decision, the flowchart is wrong (the
    success step runs into the refusal), though every step is reachable and every path ends.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    written = {step["id"]: index for index, step in enumerate(steps)}
    for decision in steps:
        outcomes = {branch["to"]: branch["when"] for branch in decision.get("branches", [])}
        for target, when in outcomes.items():
            index = written.get(target)  # None: a step inside a standard procedure, which leads on by itself
            if index is None or index + 1 == len(steps) or any(k in steps[index] for k in ("next", "end", "branches")):
                continue
            following = steps[index + 1]
            if following["id"] in outcomes and following["id"] != target:
                message = tr(
                    "this step is what follows %(when)r at %(decision)r, but says nothing of where it goes, so it runs"
                    " on into %(next)r, another outcome of the same decision; add 'end: true' if the procedure ends"
                    " here, or 'next:' with the step that follows",
                    when=when,
                    decision=decision.get("title", decision["id"]),
                    next=following.get("title", following["id"]),
                )
                problems.append((("steps", index, "id"), message))
    return problems


def _reachable(start: list[str], edges: dict[str, list[str]]) -> set[str]:
    found, todo = set(start), list(start)
    while todo:
        for following in edges[todo.pop()]:
            if following not in found:
                found.add(following)
                todo.append(following)
    return found
