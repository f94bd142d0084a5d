"""Lay out a procedure's steps as a flowchart: a main column, with short side paths beside it."""

from __future__ import annotations

from typing import Any


def _side_steps(steps: list[dict[str, Any]]) -> set[str]:
    """Return the ids of steps drawn beside the main column.

    A side step ends its path (e.g. 告知申请人 after 审核不通过) and is reached only through a
    labelled branch, never by simply following the previous step.
    """
    plain_targets = {g["to"] for s in steps for g in s["goes_to"] if g["when"] is None}
    branch_targets = {g["to"] for s in steps for g in s["goes_to"] if g["when"] is not None}
    return {
        s["id"] for s in steps[1:] if not s["goes_to"] and s["id"] in branch_targets and s["id"] not in plain_targets
    }


def layout(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the chart's rows, top to bottom.

    Each row: ``number`` and ``step`` (the main box), ``side`` (side boxes with their branch
    label), ``down`` (label of the arrow to the next row, '' for a plain arrow, None for none),
    ``jumps`` (other branches: label, target number and title) and ``ends``.
    """
    numbers = {s["id"]: n for n, s in enumerate(steps, start=1)}
    by_id = {s["id"]: s for s in steps}
    side = _side_steps(steps)
    main = [s for s in steps if s["id"] not in side]
    rows = []
    for index, step in enumerate(main):
        following = main[index + 1]["id"] if index + 1 < len(main) else None
        row: dict[str, Any] = {"number": numbers[step["id"]], "step": step, "side": [], "jumps": [], "down": None}
        for go in step["goes_to"]:
            target = by_id[go["to"]]
            if go["to"] in side:
                row["side"].append({"when": go["when"], "number": numbers[go["to"]], "step": target})
            elif go["to"] == following and row["down"] is None:
                row["down"] = go["when"] or ""
            else:
                row["jumps"].append({"when": go["when"], "number": numbers[go["to"]], "title": target["title"]})
        row["ends"] = not step["goes_to"]
        rows.append(row)
    return rows
