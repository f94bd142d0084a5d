"""One content file's new text judged as `kiosk county validate` judges it, at the field, before anything is saved.

The studio checks every draft here: against its schema, then against the rest of the county as it is
in the folder (its place codes, ids used twice, photos, a notice's duty and 公示期, a power item's
procedure). A guide names items of every kind, so it is checked against the whole county, kept loaded
and up to date as the folder changes (sync.authoring.folder_county); a year of the calendar and
county.yaml have the whole county read again with them, and what they would break in other files is
said at the top of their form, with each file and line.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import cast

from sync.authoring.drafts import DraftReader
from sync.authoring.folder_county import FolderCounty
from sync.authoring.history import HistoryError
from sync.authoring.items import county_and_places, text_of
from sync.contract.checks import FolderReader
from sync.contract.content import ContentInvalid, County, county_duties, county_places, load_county, with_file
from sync.contract.kinds import CountyInfo
from sync.contract.official_calendar import county_calendar
from sync.contract.procedure import procedure_problems
from sync.contract.schemas import Problem, field_name, schema_problems
from sync.contract.source import SourceError, parse_markdown, parse_yaml
from sync.contract.supervision import supervision_problem


def check(content_dir: Path, path: str, text: str, schema_name: str, staged: Path | None = None) -> list[Problem]:
    """Every problem `kiosk county validate` finds in the file *path* holding *text* (its line, field, message).

    *staged* holds the photos uploaded with drafts (sync.authoring.drafts): a draft may show those.
    """
    try:
        source = parse_markdown(text, path) if path.endswith(".md") else parse_yaml(text, path)
    except SourceError as error:
        return [Problem(error.path, error.line, "", error.message)]
    problems = schema_problems(source, schema_name)
    if not isinstance(source.data, dict):
        return problems
    if schema_name != "power":
        return problems or _in_county_problems(Path(content_dir), path, text, staged)
    broken = {problem.field.split(".")[0].split("[")[0] for problem in problems}  # fields the schema refused
    if "steps" not in broken:  # the procedure too, as the clerk fixes the rest
        for where, message in procedure_problems(source.data["steps"]):
            problems.append(Problem(path, source.line_of(where), field_name(where), message))
    if "supervision" not in broken and (wrong := supervision_problem(source.data["supervision"])):
        where = ("supervision", *wrong[0])
        problems.append(Problem(path, source.line_of(where), field_name(where), wrong[1]))
    reader = FolderReader(Path(content_dir))
    if not broken & {"village", "township"}:
        reader.check_scope(source, county_and_places(Path(content_dir))[1])
    return problems + reader.problems


def _in_county_problems(content_dir: Path, path: str, text: str, staged: Path | None) -> list[Problem]:
    """The problems of the file *path*, its schema passed, against the rest of the county: place codes, ids used
    twice, photos, a notice's duty and dates (none to find while county.yaml itself has a problem)."""
    reader = DraftReader(content_dir, {path: text}, staged)
    if path == "county.yaml":
        county_places(reader, reader.read(path, "county"))
        if reader.problems or text == text_of(content_dir, path):
            return reader.problems
        return _whole_county_problems(content_dir, path, DraftReader(content_dir, {path: text}, staged))
    if path.startswith("calendar/"):  # every notice's 公示期 is counted on it again
        return _whole_county_problems(content_dir, path, reader)
    if path.startswith("guides/"):
        return _guide_problems(content_dir, path, reader)
    info, places = county_and_places(content_dir)
    if info is None:
        return []
    notice = path.startswith("notices/") and (content_dir / "duties.yaml").is_file()
    duties = county_duties(FolderReader(content_dir), places) if notice else []
    calendar = county_calendar(FolderReader(content_dir)) if path.startswith("notices/") else []  # its 公示期
    try:
        with_file(County(cast(CountyInfo, info), duties=duties, calendar=calendar), reader, path)
    except ContentInvalid as invalid:
        return invalid.problems
    return []


def _whole_county_problems(content_dir: Path, path: str, reader: DraftReader) -> list[Problem]:
    """What the draft of *path* (county.yaml, a year of the calendar) breaks in the whole county (a village taken
    away that items name, a notice's 公示期 no longer kept): each problem of another file said at the top of the
    draft's form, with its file and line."""
    try:
        load_county(content_dir, reader)
    except ContentInvalid as invalid:
        return _own_or_at_top(path, invalid.problems)
    return []


def _own_or_at_top(path: str, problems: list[Problem]) -> list[Problem]:
    """*problems* of the file *path* at their fields; those of other files at the top, each with its file and line."""
    return [problem if problem.path == path else
            Problem(path, 1, "", f"{problem.path}:{problem.line}: {problem.message}")
            for problem in problems]  # fmt: skip


_counties: dict[str, FolderCounty] = {}  # content folder -> its county, kept up to date for the guides' checks
_counties_lock = threading.Lock()


def _guide_problems(content_dir: Path, path: str, reader: DraftReader) -> list[Problem]:
    """The problems of a guide's draft: its questions, and what its endings name against the whole county (the
    folder's county kept loaded; read whole when the folder has no history of its own, or problems elsewhere)."""
    county = None
    if (content_dir / ".git").exists():
        try:
            with _counties_lock:  # a FolderCounty is not thread-safe
                county = _counties.setdefault(str(content_dir), FolderCounty(content_dir)).current()[1]
        except (ContentInvalid, HistoryError):
            county = None
    try:
        if county is None:
            load_county(content_dir, reader)
        else:
            with_file(county, reader, path)
    except ContentInvalid as invalid:
        if county is None:  # the folder's own problems are not this guide's to fix
            return [problem for problem in invalid.problems if problem.path == path]
        return _own_or_at_top(path, invalid.problems)
    return []
