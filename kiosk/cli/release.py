"""`kiosk county release`: publish kiosk software on the signed channel, and pause, resume or withdraw it."""

from __future__ import annotations

from pathlib import Path

import click

from kiosk.cli.county import _ACCEPT_CLOCK, _KEYS, _REPO, _fail
from sync.contract.i18n import tr
from sync.publish.keys import SigningKeyError
from sync.publish.repository import Repository, RepositoryError
from sync.publish.software import publish_release, set_state

_STATES = {"pause": "paused", "resume": "active", "withdraw": "withdrawn"}


@click.command("release")
@click.argument("wheelhouse", required=False, type=click.Path(exists=True, file_okay=False))
@_REPO
@_KEYS
@click.option("--villages", help="Only these villages, by code, separated by commas (a first, small group).")
@click.option("--percent", type=click.IntRange(1, 100), help="Only this share of villages, chosen once per release.")
@click.option("--notes", default="", help="What changed, for the county's officers and the kiosks' staff.")
@click.option("--upgrade-from", default="0", show_default=True,
              help="The oldest version that may upgrade to this release.")  # fmt: skip
@click.option("--pause", "pause", metavar="VERSION", help="Stop offering this release (kiosks that have it keep it).")
@click.option("--resume", "resume", metavar="VERSION", help="Offer a paused release again.")
@click.option("--withdraw", "withdraw", metavar="VERSION", help="Stop offering this release for good.")
@_ACCEPT_CLOCK
def release(
    wheelhouse: str | None, repo: str, keys: str, villages: str | None, percent: int | None, notes: str,
    upgrade_from: str, pause: str | None, resume: str | None, withdraw: str | None, accept_clock: bool,
) -> None:  # fmt: skip
    """Publish the kiosk's wheel and its dependencies' (a folder made with pip download) as a release signed
    with the software key; or pause, resume or withdraw a release."""
    repository = Repository(Path(repo), Path(keys))
    changes = {action: version for action, version in (("pause", pause), ("resume", resume), ("withdraw", withdraw))
               if version}  # fmt: skip
    if len(changes) + bool(wheelhouse) != 1:
        raise click.UsageError(tr("give a wheelhouse folder, or one of --pause, --resume or --withdraw"))
    try:
        if wheelhouse:
            codes = [code.strip() for code in (villages or "").split(",") if code.strip()] or None
            made = publish_release(repository, Path(wheelhouse), villages=codes, percent=percent, notes=notes,
                                   upgrade_from=upgrade_from, accept_clock=accept_clock)  # fmt: skip
            reach = (tr("villages %(codes)s", codes=", ".join(made["villages"])) if made["villages"] else
                     tr("%(percent)s%% of villages", percent=made["percent"]) if made["percent"] else
                     tr("every village"))  # fmt: skip
            click.echo(tr("Published release %(version)s (%(count)s wheels) for %(reach)s.",
                          version=made["version"], count=len(made["wheels"]), reach=reach))  # fmt: skip
            return
        [(action, version)] = changes.items()
        changed = set_state(repository, version, _STATES[action], accept_clock=accept_clock)
        said = {"active": tr("offered again"), "paused": tr("paused"), "withdrawn": tr("withdrawn")}[changed["state"]]
        click.echo(tr("Release %(version)s: %(state)s.", version=changed["version"], state=said))
    except (RepositoryError, SigningKeyError) as error:
        _fail(error)
