"""我要办 (guided questions): one question a screen, big answers, to the matters a villager came for.

Every answer is a plain link: the answers taken so far are in the address (/guides/<guide>/2-1-1, the
second answer, then the first, then the first), so the browser's back, the Back button and a kiosk
without script all work, and nothing is kept in the session. The guides list is the first step; a
guide's first question the second. The content and its rules: sync/contract/guides.py.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _

from kiosk.data import guides as guide_data
from kiosk.data.clock import screen_now
from kiosk.data.content_db import content_meta, get_db, one_or_404
from kiosk.screens import counting
from kiosk.screens.filters import day
from kiosk.screens.qr import code_of
from kiosk.screens.slip import KioskPrinter, Slip, render_slip
from kiosk.screens.speech import cached_speech, first_part, speakable_pinyin
from sync.contract.guides import GuideStep, walk
from sync.contract.kinds import Guide, GuideEnding

bp = Blueprint("guides", __name__)
bp.before_request(counting.left_search)  # a search that found nothing, left for a guide, is counted
_NUMBERS = "一二三四五六"  # answers read aloud by number: 2 to 6 of them


def _ending_reached(guide: Guide, ending: GuideEnding) -> None:
    """Count that a villager reached *ending* of *guide* (what villagers looked for: counts, never who), once a
    visit: the same ending shown again in another language or in elder mode is not reached again."""
    counting.seen("guide_ending", f"{guide['id']}/{ending['id']}")


def _step_or_404(guide_id: str, answers: str) -> GuideStep:
    guide = one_or_404(guide_data.guide(get_db(), guide_id))
    return one_or_404(walk(guide, answers))


def _step_url(guide_id: str, answers: str) -> str:
    if not answers:
        return url_for("guides.guide_step", guide_id=guide_id)
    return url_for("guides.guide_step", guide_id=guide_id, answers=answers)


def guide_phone_url(info: dict[str, str], guide_id: str, answers: str) -> str:
    """The county's phone page of this step (mobile.guide_step): <base>/m/<village>/guides/<guide>/<answers>."""
    return f"{info['public_base_url'].rstrip('/')}/m/{info['village_code']}/guides/{guide_id}/{answers}"


@bp.route("/guides")
def guide_list() -> ResponseReturnValue:
    """The first step: what the villager wants to do, one answer a guide."""
    found = guide_data.guides(get_db())
    if not found:
        abort(404)
    speech = url_for("guides.guide_audio")
    return render_template("screens/guide_list.html", guides=found, speech_src=speech, back=url_for("screens.home"))


@bp.route("/guides/<guide_id>/", defaults={"answers": ""})
@bp.route("/guides/<guide_id>/<answers>")
def guide_step(guide_id: str, answers: str) -> ResponseReturnValue:
    """A question with its answers as links, or the ending the answers led to."""
    step = _step_or_404(guide_id, answers)
    back = _step_url(guide_id, step.before()) if step.answers else url_for("guides.guide_list")
    context = {
        "guide": step.guide, "step": step, "back": back, "restart": url_for("guides.guide_list"),
        "speech_src": url_for("guides.guide_audio", guide_id=guide_id, answers=answers or None),
    }  # fmt: skip
    if step.question is not None:
        links = [_step_url(guide_id, step.after(n)) for n in range(1, len(step.question["answers"]) + 1)]
        return render_template("screens/guide_question.html", links=links, **context)
    assert step.ending is not None
    if "print" not in request.args:  # back from printing its slip: reached once already
        _ending_reached(step.guide, step.ending)
    db = get_db()
    items = guide_data.ending_items(db, step.ending, screen_now())
    for item in items:
        item.update(code_of(item["kind"], item["id"]))
    return render_template(
        "screens/guide_ending.html", ending=step.ending, items=items,
        contacts=guide_data.ending_contacts(db, step.ending),
        print_action=url_for("guides.print_ending", guide_id=guide_id, answers=answers), **context,
    )  # fmt: skip


@bp.route("/speech/guides.wav", defaults={"guide_id": None})
@bp.route("/speech/guide/<guide_id>.wav")
def guide_audio(guide_id: str | None) -> ResponseReturnValue:
    """Read a step aloud: the guides list, a question and its answers by number, or an ending."""
    command = current_app.extensions.get("speech")
    if command is None:
        abort(404)
    with force_locale("zh"):  # the voice speaks Mandarin, whatever language the screen is in
        if guide_id is None:
            found = guide_data.guides(get_db())
            if not found:
                abort(404)
            text = spoken_question(_("What do you want to do?"), [guide["title"] for guide in found])
        else:
            step = _step_or_404(guide_id, request.args.get("answers", ""))
            text = spoken_step(step, _ending_names(step))
    audio = cached_speech(command, speakable_pinyin(first_part(text)))
    return send_file(io.BytesIO(audio) if isinstance(audio, bytes) else audio, mimetype="audio/wav")


def _ending_names(step: GuideStep) -> list[str]:
    if step.ending is None:
        return []
    db = get_db()
    names = [item["title"] for item in guide_data.ending_items(db, step.ending, screen_now())]
    return names + [f"{c['name']}，{c['phone']}" for c in guide_data.ending_contacts(db, step.ending)]


def spoken_question(ask: str, answers: list[str], help_text: str = "") -> str:
    """What is read for a question: the question, its help, then each answer by number ('一、是；')."""
    said = [ask, help_text] + [f"{_NUMBERS[n]}、{answer}。" for n, answer in enumerate(answers)]
    return "\n".join(part for part in said if part)


def spoken_step(step: GuideStep, names: list[str]) -> str:
    """What is read for a guide's step: its question and answers, or its ending with what to do and the matters."""
    if step.question is not None:
        answers = [answer["answer"] for answer in step.question["answers"]]
        return spoken_question(step.question["ask"], answers, step.question.get("help", ""))
    assert step.ending is not None
    said = [step.ending["title"], f"{_('What to do next')}：{step.ending['what_next']}"]
    if names:
        said.append(f"{_('Where to go')}：{'；'.join(names)}。")
    return "\n".join(said)


@bp.post("/print/guide/<guide_id>/<answers>")
def print_ending(guide_id: str, answers: str) -> ResponseReturnValue:
    """Print an ending's slip (what to do next, the matters, a QR code of its phone page) and show the ending again."""
    kiosk_printer: KioskPrinter = current_app.extensions["slip"]
    step = _step_or_404(guide_id, answers)
    if kiosk_printer.connect is None or step.ending is None:
        abort(404)
    info = content_meta()
    facts = [(_("What to do next"), step.ending["what_next"])]
    facts += [(_("Where to go"), name) for name in _ending_names(step)]
    place = f"{info['township_name']} {info['village_name']}"
    url = guide_phone_url(info, guide_id, answers)
    slip = Slip(step.ending["title"], place, facts, url, day(screen_now().date().isoformat()))
    outcome = kiosk_printer.send(render_slip(slip))
    return redirect(url_for("guides.guide_step", guide_id=guide_id, answers=answers, print=outcome), code=303)


@bp.errorhandler(400)
def _stale_form(_error: Any) -> ResponseReturnValue:
    # As slip.py's: a forged request, or a page kept open across a browser restart; nothing printed.
    heading, text = _("Nothing was printed"), _("Please open the page again and press Print once more.")
    return render_template("screens/error.html", heading=heading, text=text), 400
