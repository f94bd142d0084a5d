"""How a procedure is laid out as a flowchart: what continues the main column, what goes beside it, loops."""

from __future__ import annotations

from typing import Any

from kiosk.screens.flowchart import layout
from sync.contract.procedure import expand_steps


def titles(rows: list[dict[str, Any]]) -> list[str]:
    return [row["step"]["title"] for row in rows]


def test_when_both_outcomes_end_the_first_one_continues_the_main_column() -> None:
    rows = layout(
        expand_steps(
            [
                {"id": "apply", "title": "提出申请", "actor": "村民"},
                {
                    "id": "review",
                    "title": "镇（乡）审核",
                    "actor": "镇（乡）人民政府",
                    "branches": [{"when": "批准", "to": "grant"}, {"when": "不予批准", "to": "refuse"}],
                },
                {"id": "refuse", "title": "告知申请人", "actor": "村委会", "end": True},
                {"id": "grant", "title": "纳入台账", "actor": "村委会", "end": True},
            ]
        )
    )
    assert titles(rows) == ["提出申请", "镇（乡）审核", "纳入台账"]
    assert rows[1]["down"] == "批准" and rows[1]["jumps"] == []
    assert [(side["when"], side["number"], side["ends"]) for side in rows[1]["side"]] == [("不予批准", 3, True)]
    assert rows[2]["number"] == 4 and rows[2]["ends"]


def test_when_the_other_outcome_goes_back_the_first_one_still_continues_the_main_column() -> None:
    rows = layout(
        expand_steps(
            [
                {"id": "grade", "title": "支委会评定等次", "actor": "支委会"},
                {
                    "id": "report",
                    "title": "报镇（乡）党委审核",
                    "actor": "支委会",
                    "branches": [{"when": "审核同意", "to": "publish"}, {"when": "需要重新评定", "to": "grade"}],
                },
                {"id": "publish", "title": "公开评议结果", "actor": "支委会", "end": True},
            ]
        )
    )
    assert titles(rows) == ["支委会评定等次", "报镇（乡）党委审核", "公开评议结果"]
    assert rows[1]["down"] == "审核同意" and rows[1]["side"] == []
    assert rows[1]["jumps"] == [{"when": "需要重新评定", "number": 1, "title": "支委会评定等次", "back": True}]


def test_a_step_that_goes_back_is_a_side_box_that_says_where_it_goes_back_to() -> None:
    steps = expand_steps(
        [
            {"id": "apply", "title": "提出申请", "actor": "申请人"},
            {"id": "accept", "title": "受理", "actor": "镇（乡）人民政府"},
            {
                "id": "publicize",
                "title": "公示",
                "actor": "村民委员会",
                "branches": [{"when": "公示无异议", "to": "confirm"}, {"when": "有异议", "to": "recheck"}],
            },
            {"id": "recheck", "title": "补正材料", "actor": "申请人", "next": "accept"},
            {"id": "confirm", "title": "审核确认", "actor": "县民政局"},
        ]
    )
    rows = layout(steps)
    assert titles(rows) == ["提出申请", "受理", "公示", "审核确认"]
    publicize = rows[2]
    assert publicize["down"] == "公示无异议" and publicize["jumps"] == []
    [side] = publicize["side"]
    assert (side["when"], side["number"], side["step"]["title"], side["ends"]) == ("有异议", 4, "补正材料", False)
    assert side["jumps"] == [{"when": None, "number": 2, "title": "受理", "back": True}]


def test_a_jump_forward_is_not_drawn_as_going_back() -> None:
    rows = layout(
        expand_steps(
            [
                {
                    "id": "check",
                    "title": "审查",
                    "actor": "村委会",
                    "branches": [{"when": "需要公示", "to": "post"}, {"when": "无需公示", "to": "file"}],
                },
                {"id": "post", "title": "公示", "actor": "村委会"},
                {"id": "file", "title": "归档", "actor": "村委会"},
            ]
        )
    )
    assert titles(rows) == ["审查", "公示", "归档"]
    assert rows[0]["down"] == "需要公示"
    assert rows[0]["jumps"] == [{"when": "无需公示", "number": 3, "title": "归档", "back": False}]


def test_a_side_box_two_decisions_lead_to_is_drawn_once() -> None:
    rows = layout(
        expand_steps(
            [
                {
                    "id": "check",
                    "title": "初审",
                    "actor": "村委会",
                    "branches": [{"when": "符合", "to": "review"}, {"when": "不符合", "to": "refuse"}],
                },
                {
                    "id": "review",
                    "title": "复审",
                    "actor": "镇（乡）人民政府",
                    "branches": [{"when": "通过", "to": "pay"}, {"when": "不通过", "to": "refuse"}],
                },
                {"id": "refuse", "title": "告知申请人", "actor": "村委会", "end": True},
                {"id": "pay", "title": "发放", "actor": "县民政局"},
            ]
        )
    )
    assert titles(rows) == ["初审", "复审", "发放"]
    assert [side["number"] for side in rows[0]["side"]] == [3] and rows[1]["side"] == []
    assert rows[1]["jumps"] == [{"when": "不通过", "number": 3, "title": "告知申请人", "back": False}]
