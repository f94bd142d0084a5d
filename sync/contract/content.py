"""The content model: load a county's source folder into checked, normalised content.

Nothing partial is ever returned: ``load_county`` either gives the whole county or raises
``ContentInvalid`` listing every problem found, each with file, line and field.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from sync.contract.checks import FolderReader, without_place
from sync.contract.dates import DEFAULT_TIMEZONE, WorkCalendar, timezone_problem
from sync.contract.duties import schedule_problem, since_problem
from sync.contract.guides import county_guides
from sync.contract.i18n import tr
from sync.contract.kinds import (
    CatalogueEntry,
    Contact,
    CountyInfo,
    Duty,
    Notice,
    Power,
    TenOnes,
)
from sync.contract.kinds import ContentInvalid as ContentInvalid
from sync.contract.kinds import County as County
from sync.contract.notices import notice_of, notices_of
from sync.contract.official_calendar import county_calendar, work_calendar
from sync.contract.procedure import FOUR_TWO, expand_steps
from sync.contract.schemas import Problem, load_schema
from sync.contract.source import SourceFile
from sync.contract.supervision import supervision_problem, supervision_warnings

TEN = 10  # the ten ones (十个一): a county may publish another count, with a warning


def county_places(reader: FolderReader, source: SourceFile | None) -> dict[str, set[str]] | None:
    """Return the codes of townships and villages, or None when county.yaml is unusable."""
    if source is None:
        return None
    if problem := timezone_problem(source.data.get("timezone", DEFAULT_TIMEZONE)):
        reader.problem(source, ("timezone",), problem)
    places: dict[str, set[str]] = {"village": set(), "township": set()}
    seen: dict[str, str] = {}
    for t, township in enumerate(source.data["townships"]):
        reader.check_unique(seen, township["code"], source, ("townships", t, "code"), tr("code"))
        places["township"].add(township["code"])
        for v, village in enumerate(township["villages"]):
            reader.check_unique(seen, village["code"], source, ("townships", t, "villages", v, "code"), tr("code"))
            places["village"].add(village["code"])
    return places


def _powers(reader: FolderReader, places: dict[str, set[str]] | None) -> tuple[list[Power], list[tuple[str, str, int]]]:
    """The power items, and the scope, file and line of each that asks for the village's own supervision."""
    powers: list[Power] = []
    asking: list[tuple[str, str, int]] = []
    seen: dict[str, str] = {}
    for source in reader.read_folder("powers", ".yaml", "power", required=True):
        reader.check_unique(seen, source.data["id"], source, ("id",), tr("power item id"))
        if (power := checked_power(reader, source, places)) is not None:
            powers.append(power)
            if power["supervision"].get("village"):
                asking.append((power["scope"], source.path, source.line_of(("supervision", "village"))))
    return powers, asking


def checked_power(reader: FolderReader, source: SourceFile, places: dict[str, set[str]] | None) -> Power | None:
    """The power item a file holds (its schema checked already), its problems told to *reader*; None when unsound."""
    scope = reader.check_scope(source, places)
    sound = reader.check_steps(source)
    if wrong := supervision_problem(source.data["supervision"]):
        reader.problem(source, ("supervision", *wrong[0]), wrong[1])
        sound = False
    return power_of(source.data, scope) if sound else None


def power_of(data: dict[str, Any], scope: str) -> Power:
    """The power item a checked file's *data* holds, shown in *scope* ('county', 'township:X', 'village:Y')."""
    steps = expand_steps(data["steps"])
    four_two = any(s.get("procedure") == FOUR_TWO for s in steps)
    item = {k: v for k, v in without_place(data).items() if k != "steps"}
    return cast(Power, {**item, "scope": scope, "steps": steps, "four_two": four_two})


def _catalogue(reader: FolderReader) -> list[CatalogueEntry]:
    areas = load_schema("catalogue")["properties"]["area"]["enum"]
    catalogue: list[CatalogueEntry] = []
    seen_areas: dict[str, str] = {}
    seen_items: dict[str, str] = {}
    for source in reader.read_folder("catalogue", ".yaml", "catalogue", required=True):
        area = source.data["area"]
        reader.check_unique(seen_areas, area, source, ("area",), tr("catalogue area"))
        for n, entry in enumerate(source.data["items"]):
            reader.check_unique(seen_items, entry["id"], source, ("items", n, "id"), tr("catalogue item id"))
            catalogue.append(cast(CatalogueEntry, {**entry, "area": area, "area_order": areas.index(area)}))
    return catalogue


def _ten_ones(reader: FolderReader, media: dict[str, Path]) -> TenOnes:
    source = reader.read("ten_ones.yaml", "ten_ones")
    if source is None:
        return TenOnes()
    for n, entry in enumerate(source.data["items"]):
        if "photo" in entry:
            reader.check_media(source, ("items", n, "photo"), entry["photo"], media)
    if (count := len(source.data["items"])) != TEN:
        message = tr("the ten ones (十个一) list %(count)s entries, not ten: check that none is missing or doubled",
                     count=count)  # fmt: skip
        reader.warn(source, ("items",), message)
    return cast(TenOnes, source.data)


def _contacts(reader: FolderReader, places: dict[str, set[str]] | None) -> list[Contact]:
    source = reader.read("contacts.yaml", "contacts")
    if source is None:
        return []
    contacts: list[Contact] = []
    seen: dict[str, str] = {}
    for n, entry in enumerate(source.data["contacts"]):
        reader.check_unique(seen, entry["id"], source, ("contacts", n, "id"), tr("contact id"))
        scope = reader.check_scope(source, places, ("contacts", n))
        contacts.append(cast(Contact, {**without_place(entry), "scope": scope}))
    return contacts


def county_duties(reader: FolderReader, places: dict[str, set[str]] | None) -> list[Duty]:
    source = reader.read("duties.yaml", "duties")
    if source is None:
        return []
    duties: list[Duty] = []
    seen: dict[str, str] = {}
    for n, entry in enumerate(source.data["duties"]):
        reader.check_unique(seen, entry["id"], source, ("duties", n, "id"), tr("duty id"))
        scope = reader.check_scope(source, places, ("duties", n))
        if problem := schedule_problem(entry):
            name, message = problem
            reader.problem(source, ("duties", n, name) if name else ("duties", n), message)
        if wrong_since := since_problem(entry):
            reader.problem(source, ("duties", n, "since"), wrong_since)
        duties.append(cast(Duty, {**without_place(entry), "scope": scope}))
    return duties


class WholeFiles:
    """How load_county reads the power items and notices, the county's many files: each whole, every time.

    A publish reads only the files that changed since the last (sync/publish/changed_files.py): it checks the
    others again by the fields the rest of the county judges, and keeps their items out of the County.
    """

    def powers(
        self, reader: FolderReader, places: dict[str, set[str]] | None
    ) -> tuple[list[Power], list[tuple[str, str, int]]]:
        """The power items, and the scope, file and line of each that asks for the village's own supervision."""
        return _powers(reader, places)

    def notices(
        self, reader: FolderReader, places: dict[str, set[str]] | None, media: dict[str, Path],
        duties: dict[str, Duty], calendar: WorkCalendar,
    ) -> list[Notice]:  # fmt: skip
        return notices_of(reader, places, media, duties, calendar)

    def named(self, powers: list[Power], notices: list[Notice]) -> dict[str, list[Any]]:
        """The power items and notices a guide's endings may name (each with its id and scope)."""
        return {"powers": powers, "notices": notices}


def load_county(root: Path, reader: FolderReader | None = None, items: WholeFiles | None = None) -> County:
    """Load and check every file of the county folder *root*; raise ContentInvalid on any problem.

    *reader* reads the files (default: a FolderReader of *root*; the studio's reads its drafts in place of files);
    *items* the power items and notices (default: WholeFiles).
    """
    items = items or WholeFiles()
    root = Path(root)
    if not (root / "county.yaml").is_file():
        message = tr("missing: %(root)s has no county.yaml, is it a county folder?", root=root)
        raise ContentInvalid([Problem("county.yaml", 1, "", message)])
    reader = reader or FolderReader(root)
    for name in ("ten_ones.yaml", "contacts.yaml"):
        if not (root / name).is_file():
            reader.file_problem(name, tr("missing: every county publishes this file"))
    county_source = reader.read("county.yaml", "county")
    places = county_places(reader, county_source)
    media: dict[str, Path] = {}
    powers, asking = items.powers(reader, places)
    duties = county_duties(reader, places) if (root / "duties.yaml").is_file() else []  # optional
    calendar = county_calendar(reader)  # before the notices: their 公示期 is counted on it
    notices = items.notices(reader, places, media, {duty["id"]: duty for duty in duties}, work_calendar(calendar))
    catalogue = _catalogue(reader)
    ten_ones = _ten_ones(reader, media) if (root / "ten_ones.yaml").is_file() else TenOnes()
    contacts = _contacts(reader, places) if (root / "contacts.yaml").is_file() else []
    villages = County(cast(CountyInfo, county_source.data)).villages() if county_source else []
    named: dict[str, list[Any]] = {**items.named(powers, notices), "catalogue": catalogue, "contacts": contacts}
    guides = county_guides(reader, places, villages, named)
    if reader.problems or county_source is None:
        raise ContentInvalid(_in_order(reader.problems))
    # Every file passed its schema (reader.read): the casts say what the schemas checked.
    info = cast(CountyInfo, county_source.data)
    warnings = _in_order(reader.warnings + supervision_warnings(villages, asking, contacts))
    return County(info, powers, notices, catalogue, ten_ones, contacts, media, duties, guides, calendar, warnings)


def _in_order(problems: list[Problem]) -> list[Problem]:
    """*problems* once each, by file, line and field (those of one place in the order they were found)."""
    return sorted(dict.fromkeys(problems), key=lambda p: (p.path, p.line, p.field))


def path_id(path: str) -> str:
    """The id an item's file *path* names: powers/dibao-shenqing.yaml -> dibao-shenqing."""
    return path.rpartition("/")[2].rpartition(".")[0]


def with_file(county: County, reader: FolderReader, path: str) -> County:
    """*county* with its file *path* read again through *reader* (a draft of it, say), everything else as it was.

    The file gets the checks `load_county` gives it against the rest of the county (its place codes, its
    photos, a notice's duty); county.yaml, which everything depends on, and a year of the calendar
    (notices are counted on it) have the whole county read again.
    :raises ContentInvalid: with the file's problems.
    """
    if path == "county.yaml" or path.startswith("calendar/"):  # the calendar: every notice's 公示期 counted again
        return load_county(reader.root, reader)
    places = {
        "township": {t["code"] for t in county.info["townships"]},
        "village": {v["code"] for v in county.villages()},
    }
    media = dict(county.media)
    changed: dict[str, Any] = {}
    if path.startswith(("powers/", "notices/")):
        notice = path.startswith("notices/")
        source = reader.read(path, "notice" if notice else "power", markdown=notice)
        others = [item for item in (county.notices if notice else county.powers) if item["id"] != path_id(path)]
        if source is not None and notice:
            duties = {duty["id"]: duty for duty in county.duties}
            item = notice_of(reader, source, places, media, duties, work_calendar(county.calendar))
            changed["notices"] = others + ([item] if item is not None else [])
        elif source is not None and (power := checked_power(reader, source, places)) is not None:
            changed["powers"] = [*others, power]
    elif path.startswith("catalogue/"):
        changed["catalogue"] = _catalogue(reader)
    elif path == "contacts.yaml":
        changed["contacts"] = _contacts(reader, places)
    elif path == "ten_ones.yaml":
        changed["ten_ones"] = _ten_ones(reader, media)
    elif path == "duties.yaml":
        changed["duties"] = county_duties(reader, places)
    elif path.startswith("guides/"):  # guides/ is read whole: a guide is checked against the rest of the county
        named: dict[str, list[Any]] = {"powers": county.powers, "catalogue": county.catalogue,
                                       "notices": county.notices, "contacts": county.contacts}  # fmt: skip
        changed["guides"] = county_guides(reader, places, county.villages(), named)
    else:
        reader.file_problem(path, tr("not read: this file is not one of the county's content"))
    if reader.problems:
        raise ContentInvalid(_in_order(reader.problems))
    return with_media_used(replace(county, media=media, **changed))


def with_media_used(county: County) -> County:
    """*county* with only the photos its notices and ten ones name, as load_county finds them."""
    used = {ref for notice in county.notices for ref in notice.get("photos", [])}
    used |= {entry["photo"] for entry in county.ten_ones.get("items", []) if "photo" in entry}
    return replace(county, media={ref: file for ref, file in county.media.items() if ref in used})
