"""Lay out a procedure's steps as a flowchart: a main column, with short side paths beside it."""

from __future__ import annotations

from typing import Any


def _detours(steps: list[dict[str, Any]]) -> set[str]:
    """Return the ids of steps that could be drawn beside the main column.

    A detour is reached only through a labelled branch, never by simply following the previous
    step, and is one box long: its path ends there (告知申请人 after 审核不通过) or goes back to an
    earlier step (补正材料, then back to 受理).
    """
    position = {s["id"]: n for n, s in enumerate(steps)}
    plain_targets = {g["to"] for s in steps for g in s["goes_to"] if g["when"] is None}
    branch_targets = {g["to"] for s in steps for g in s["goes_to"] if g["when"] is not None}
    return {
        s["id"]
        for n, s in enumerate(steps[1:], start=1)
        if s["id"] in branch_targets
        and s["id"] not in plain_targets
        and all(position[g["to"]] < n for g in s["goes_to"])
    }


def _side_steps(steps: list[dict[str, Any]]) -> set[str]:
    """Return the ids of steps drawn beside the main column.

    When no outcome of a decision leads on down the chart (both branches end, or one ends and the
    other goes back), the main column would stop at the decision: the content's first outcome
    drawn beside it continues the main column instead.
    """
    position = {s["id"]: n for n, s in enumerate(steps)}
    side = _detours(steps)
    for n, step in enumerate(steps):
        targets = [g["to"] for g in step["goes_to"]]
        if len(targets) > 1 and not any(to not in side and position[to] > n for to in targets):
            side.discard(next((to for to in targets if to in side), ""))
    return side


def _jumps(
    step: dict[str, Any], numbers: dict[str, int], by_id: dict[str, Any], skip: set[str]
) -> list[dict[str, Any]]:
    """Return where *step* leads other than along the chart: label, target number and title, and
    whether it goes back to an earlier step (a loop, drawn as "back to step N")."""
    return [
        {
            "when": go["when"],
            "number": numbers[go["to"]],
            "title": by_id[go["to"]]["title"],
            "back": numbers[go["to"]] <= numbers[step["id"]],
        }
        for go in step["goes_to"]
        if go["to"] not in skip
    ]


def layout(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the chart's rows, top to bottom.

    Each row: ``number`` and ``step`` (the main box), ``side`` (side boxes: branch label ``when``,
    ``number``, ``step``, their own ``jumps`` and ``ends``), ``down`` (label of the arrow to the
    next row, '' for a plain arrow, None for none), ``jumps`` (other branches: label, target
    number and title, ``back`` for a loop to an earlier step) and ``ends``.
    """
    numbers = {s["id"]: n for n, s in enumerate(steps, start=1)}
    by_id = {s["id"]: s for s in steps}
    side = _side_steps(steps)
    main = [s for s in steps if s["id"] not in side]
    rows = []
    placed: set[str] = set()  # a side box reached from two decisions is drawn once; the second one jumps to it
    for index, step in enumerate(main):
        following = main[index + 1]["id"] if index + 1 < len(main) else None
        row: dict[str, Any] = {"number": numbers[step["id"]], "step": step, "side": [], "down": None}
        drawn = set()
        for go in step["goes_to"]:
            target = by_id[go["to"]]
            if go["to"] in side and go["to"] not in placed:
                jumps = _jumps(target, numbers, by_id, set())
                row["side"].append(
                    {"when": go["when"], "number": numbers[go["to"]], "step": target, "jumps": jumps, "ends": not jumps}
                )
                drawn.add(go["to"])
                placed.add(go["to"])
            elif go["to"] == following and row["down"] is None:
                row["down"] = go["when"] or ""
                drawn.add(go["to"])
        row["jumps"] = _jumps(step, numbers, by_id, drawn)
        row["ends"] = not step["goes_to"]
        rows.append(row)
    return rows
