"""A procedure's steps as the studio edits them: a list of boxes, each saying what comes after it.

A clerk never types a step id: each step keeps a hidden id (made from its title when new), and a
decision's outcomes pick their target from the steps by name. What comes after a step is one of:
the next step in the list, the end, another step (a jump: ``next``), or a decision with two or more
labelled outcomes (``branches``). A 四议两公开 block stands for its six standard steps. Buttons on
the form (add, remove, move up or down, add an outcome) are edits of the list, made by apply() on
the server, so the editor works without script; the form is redrawn, nothing saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.authoring.forms import clean
from sync.authoring.plan import unique_id
from sync.contract.pinyin import slug
from sync.contract.procedure import FOUR_TWO, FOUR_TWO_STEPS, block_ids

MAX_STEPS = 60  # steps read from one form at most (a procedure on a wall chart has a dozen)
MAX_OUTCOMES = 8
THEN = ("next", "end", "goto", "decide")  # what comes after a step, as the form offers it
TEXT = ("title", "actor", "description", "time_limit")


def then_of(step: Mapping[str, Any]) -> str:
    """What comes after *step*, as the form's choice names it."""
    if step.get("branches"):
        return "decide"
    if step.get("end"):
        return "end"
    return "goto" if step.get("next") else "next"


def read_steps(form: Mapping[str, str], prefix: str = "steps.") -> list[dict[str, Any]]:
    """The steps a form posted, in their order, with an id for each (made from the title when new)."""
    numbers = sorted({int(n) for n in (name[len(prefix) :].split(".", 1)[0] for name in form if name.startswith(prefix))
                      if n.isdigit() and len(n) < 3})[:MAX_STEPS]  # fmt: skip
    raw = [{key[len(f"{prefix}{n}.") :]: value for key, value in form.items() if key.startswith(f"{prefix}{n}.")}
           for n in numbers]  # fmt: skip
    ids = {value.strip() for fields in raw if (value := fields.get("id", "")).strip()}
    steps = []
    for fields in raw:
        step: dict[str, Any] = {"id": fields.get("id", "").strip()}
        if fields.get("kind") == "four_two":
            step["procedure"] = FOUR_TWO
            step["id"] = step["id"] or unique_id("siyi-liang-gongkai", ids)
            if block_outcomes := _block_outcomes(fields):
                step["outcomes"] = block_outcomes
        else:
            for key in TEXT:
                if value := clean(fields.get(key, ""), lines=key == "description").strip():
                    step[key] = value
            if not any(step.get(key) for key in TEXT):
                continue  # an empty box, as the form offers one to add: not a step
            step["id"] = step["id"] or unique_id(slug(step.get("title", ""), 30) or "step", ids)
        then = fields.get("then", "next")
        if then == "end":
            step["end"] = True
        elif then == "goto" and fields.get("next", "").strip():
            step["next"] = fields["next"].strip()
        elif then == "decide" and "procedure" not in step:
            outcomes = [(clean(fields.get(f"branches.{m}.when", "")).strip(),
                         fields.get(f"branches.{m}.to", "").strip()) for m in range(MAX_OUTCOMES)]  # fmt: skip
            chosen = [{"when": when, "to": to} for when, to in outcomes if when or to]
            step["branches"] = chosen or [{"when": "", "to": ""}, {"when": "", "to": ""}]  # chosen, not filled in yet
        steps.append(step)
    return steps


def _block_outcomes(fields: Mapping[str, str]) -> list[dict[str, Any]]:
    """A 四议两公开 block's outcomes as the form sent them: which of its steps, the outcome, where it leads."""
    found = []
    for m in range(MAX_OUTCOMES):
        number = fields.get(f"outcomes.{m}.step", "").strip()
        when, to = clean(fields.get(f"outcomes.{m}.when", "")).strip(), fields.get(f"outcomes.{m}.to", "").strip()
        if when or to:  # not filled in yet: kept for the clerk, refused by the schema until it is
            found.append({"step": int(number) if number.isdigit() else 4, "when": when, "to": to})
    return found


def apply(steps: list[dict[str, Any]], operation: str) -> list[dict[str, Any]]:
    """*steps* after the form's button *operation*: "add", "add-four-two", "remove:N", "up:N", "down:N", "outcome:N"."""
    steps = [dict(step) for step in steps]
    action, _, number = operation.partition(":")
    n = int(number) if number.isdigit() else -1
    ids = {str(step.get("id")) for step in steps if step.get("id")}
    if action == "add":  # an id at once, so that a decision can lead to the new step before it is saved
        steps.append({"id": unique_id(f"step-{len(steps) + 1}", ids), "title": "", "actor": ""})
    elif action == "add-four-two":
        steps.append({"id": unique_id("siyi-liang-gongkai", ids), "procedure": FOUR_TWO})
    elif 0 <= n < len(steps):
        if action == "remove":
            gone = steps.pop(n)["id"]
            for step in steps:  # nothing may lead to a step that is no longer there
                if step.get("next") == gone:
                    del step["next"]
                step["branches"] = [b for b in step.get("branches", []) if b.get("to") != gone]
                if not step["branches"]:
                    del step["branches"]
        elif action == "up" and n > 0:
            steps[n - 1], steps[n] = steps[n], steps[n - 1]
        elif action == "down" and n < len(steps) - 1:
            steps[n + 1], steps[n] = steps[n], steps[n + 1]
        elif action == "outcome" and "procedure" in steps[n]:  # most often: the villagers' vote fails
            steps[n]["outcomes"] = [*steps[n].get("outcomes", []), {"step": 4, "when": "", "to": ""}][:MAX_OUTCOMES]
        elif action == "outcome":
            branches = list(steps[n].get("branches", []))
            branches += [{"when": "", "to": ""}] * (2 if not branches else 1)
            steps[n]["branches"] = branches[:MAX_OUTCOMES]
            steps[n].pop("end", None)
            steps[n].pop("next", None)
    return steps


def targets(steps: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The steps an outcome or a jump may lead to: (id, "N. title") in list order (studio.js keeps the titles);
    a 四议两公开 block's own six steps too ("N.2 村“两委”商议"), where a failed vote goes back to."""
    found = []
    for n, step in enumerate(steps, start=1):
        if step.get("id"):
            found.append((step["id"], f"{n}. {step.get('title') or step.get('procedure', '')}"))
            if step.get("procedure") == FOUR_TWO:
                parts = zip(block_ids(step["id"]), FOUR_TWO_STEPS, strict=True)
                found += [(part, f"{n}.{k} {standard['title']}") for k, (part, standard) in enumerate(parts, start=1)]
    return found
