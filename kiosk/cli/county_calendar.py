"""`kiosk county calendar YEAR`: write one year's official calendar from the holidays package, to check and publish."""

from __future__ import annotations

from pathlib import Path

import click

from sync.authoring.calendar_package import CalendarUnavailable, make_year, write_year
from sync.contract.i18n import tr
from sync.contract.official_calendar import notice_title, weekday_name


@click.command("calendar")
@click.argument("year", type=int)
@click.option("--into", "content_dir", default=".", show_default=True, type=click.Path(exists=True, file_okay=False),
              help="The county content folder: the year goes to its calendar/YEAR.yaml.")  # fmt: skip
@click.option(
    "--statutory-only",
    is_flag=True,
    help="For a year whose State Council notice is not out: only the holidays the law fixes, flagged.",
)
def calendar(year: int, content_dir: str, statutory_only: bool) -> None:
    """Write YEAR's holidays and make-up working days (调休) from the holidays package, for the county to check
    against the State Council's notice before publishing."""
    try:
        made = make_year(year, statutory_only)
        file = write_year(Path(content_dir), made)
    except CalendarUnavailable as error:
        raise click.ClickException(str(error)) from None
    click.echo(tr("Wrote %(file)s:", file=file))
    for run in made.runs:
        days = (run.last - run.first).days + 1
        if days == 1:
            click.echo(tr("  %(name)s: %(day)s (%(weekday)s)", name="、".join(run.names), day=run.first,
                          weekday=weekday_name(run.first)))  # fmt: skip
            continue
        click.echo(tr("  %(name)s: %(first)s (%(first_day)s) to %(last)s (%(last_day)s), %(days)s days off",
                      name="、".join(run.names), first=run.first, first_day=weekday_name(run.first), last=run.last,
                      last_day=weekday_name(run.last), days=days))  # fmt: skip
    for day, name in made.working:
        click.echo(tr("  worked: %(day)s (%(weekday)s), for %(name)s", day=day, weekday=weekday_name(day), name=name))
    title = notice_title(year)
    if made.statutory_only:
        click.echo(tr(
            "Only the holidays the law fixes (《全国年节及纪念日放假办法》): the package has no %(title)s. "
            "Kiosks count %(year)s Monday to Friday less these days, and kiosk county validate, the dashboard and "
            "the staff console say so, until the notice is out and the year is made again (move this file away, "
            "update the package, run this command again).", title=title, year=year))  # fmt: skip
        return
    click.echo(tr(
        "Check it against %(title)s (the State Council's General Office publishes it late in the year before, on the "
        "central government's website and in its gazette): each holiday's first and last day, and each make-up "
        "working day. Correct any difference in the file, then set checked: true in it; kiosk county validate warns "
        "until then. Publish it with the county's content.", title=title))  # fmt: skip
