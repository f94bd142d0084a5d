"""The content kinds as the model holds them once checked and normalised (``load_county``).

Field names follow the JSON Schemas in content/schema/ (content/README.md says what each means);
the model replaces ``village``/``township`` with one ``scope`` ('county', 'township:x',
'village:y') and adds what it derives: a notice's times and HTML, a power's expanded steps.
Everything is plain JSON, so a kind travels in a shard unchanged (sync/contract/channel.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict

if TYPE_CHECKING:
    from sync.contract.schemas import Problem

Domain = Literal["party", "village", "finance", "government"]


def in_scope(scope: str, village: Mapping[str, str]) -> bool:
    """Tell whether content with *scope* ('county', 'township:X', 'village:Y') reaches *village* (code, township)."""
    return scope in ("county", f"township:{village['township']}", f"village:{village['code']}")


# An item's place among its kind on a kiosk, in its data under this key (channel.county_from_items).
SORT = "_sort"
_SCOPE_RANKS = {"county": 0, "township": 1, "village": 2}


def sort_value(order: int, scope: str) -> int:
    """Place an item among its kind: by the county's order in its scope's list, county-wide first among
    equals, then the township's, then the village's. Made from the item alone, so that a changed item keeps
    its place and a new one takes its own without the others moving (sync/receive/patch.py)."""
    return order * 4 + _SCOPE_RANKS.get(scope.split(":")[0], 3)


class Village(TypedDict):
    code: str
    name: str


class Township(TypedDict):
    code: str
    name: str
    villages: list[Village]


class CountyInfo(TypedDict):
    """county.yaml."""

    code: str
    name: str
    public_base_url: str
    townships: list[Township]
    sample: NotRequired[bool]
    timezone: NotRequired[str]


class GoesTo(TypedDict):
    when: str | None  # the branch's label, None for the one way on
    to: str  # a step id


class Step(TypedDict):
    """One step of a procedure, standard procedures (四议两公开) expanded into their six steps."""

    id: str
    title: str
    actor: str
    goes_to: list[GoesTo]  # empty: the path ends here
    procedure: NotRequired[str]
    procedure_step: NotRequired[int]
    time_limit: NotRequired[str]
    description: NotRequired[str]


class Supervision(TypedDict, total=False):
    """A power item's supervision as written: body and phone, and/or village: true (each village's own committee)."""

    body: str
    phone: str
    village: bool


class Supervisor(TypedDict):
    """Who supervises an item on one village's kiosk (sync/contract/supervision.py): the snapshot's ``supervisors``."""

    body: str
    phone: str
    person: NotRequired[str]
    own: NotRequired[bool]  # the village's own supervision committee, from its contacts
    stand_in: NotRequired[bool]  # the township's or county's, in place of a village committee not in contacts


class Power(TypedDict):
    """A small-power item (小微权力), powers/<id>.yaml."""

    id: str
    _sort: NotRequired[int]  # its place among its kind on a kiosk (SORT), set by channel.county_from_items
    name: str
    category: str
    scope: str
    basis: list[str]
    responsible: str
    fee: str
    time_limit: str
    supervision: Supervision
    steps: list[Step]
    four_two: bool  # some step is the standard procedure 四议两公开
    number: NotRequired[str]  # 编号, the county's official number of the item
    summary: NotRequired[str]
    keywords: NotRequired[list[str]]
    participants: NotRequired[list[str]]
    materials: NotRequired[list[str]]
    disclosure: NotRequired[dict[str, str]]  # content, where, when
    risks: NotRequired[list[dict[str, str]]]  # point, control
    accountability: NotRequired[list[str]]
    _initials: NotRequired[str]  # pinyin initials for search, added when bundled


class Notice(TypedDict):
    """A county notice, notices/<id>.md: its fields and Markdown body."""

    id: str
    _sort: NotRequired[int]  # its place among its kind on a kiosk (SORT), set by channel.county_from_items
    domain: Domain
    title: str
    scope: str
    published: str  # as written
    published_at: str  # 'YYYY-MM-DD HH:MM:SS', county time
    expires_at: str | None  # the end of its last day, or None
    pinned: bool
    body_html: str  # sanitised
    body_text: str
    expires: NotRequired[str]
    min_posting_days: NotRequired[int]  # 公示期 in working days
    photos: NotRequired[list[str]]  # media/<name>
    duty: NotRequired[str]  # the duty (duties.yaml id) this notice discloses, with period
    period: NotRequired[str]  # '2026-10', '2026-Q3', '2026-H2' or '2026'
    _initials: NotRequired[str]


class CatalogueEntry(TypedDict):
    """One line of the standard disclosure catalogue (公开目录), catalogue/<area>.yaml."""

    id: str
    _sort: NotRequired[int]  # its place among its kind on a kiosk (SORT), set by channel.county_from_items
    area: str
    area_order: int  # the area's place in the schema's list
    level1: str
    content: str | list[str]  # 公开内容（要素）: one text, or its elements as written
    basis: list[str]
    time_limit: str
    body: str
    channels: list[str]
    audience: str
    mode: str
    level: list[str]
    level2: NotRequired[str]
    _initials: NotRequired[str]


class TenOne(TypedDict):
    title: str
    description: NotRequired[str]
    photo: NotRequired[str]
    _initials: NotRequired[str]


class TenOnes(TypedDict, total=False):
    """The ten ones (十个一), ten_ones.yaml; empty when a county has none."""

    intro: str
    items: list[TenOne]
    _initials: str


class Contact(TypedDict):
    id: str
    name: str
    phone: str
    kind: Literal["supervision", "hotline", "office"]
    scope: str
    person: NotRequired[str]
    hours: NotRequired[str]
    description: NotRequired[str]


class Duty(TypedDict):
    """A disclosure duty (公开事项), duties.yaml: periodic (every, due_day) or after events."""

    id: str
    title: str
    domain: Domain
    scope: str
    basis: NotRequired[list[str]]
    every: NotRequired[str]
    due_day: NotRequired[int]
    due_working_days: NotRequired[int]
    within_working_days: NotRequired[int]
    since: NotRequired[str]  # YYYY-MM-DD: periods that ended before it are not owed


class GuideAnswer(TypedDict):
    answer: str  # the words on the button
    to: str  # the id of a question or an ending of the same guide


class GuideQuestion(TypedDict):
    id: str
    ask: str
    answers: list[GuideAnswer]  # 2 to 6
    help: NotRequired[str]


class GuideEnding(TypedDict):
    """Where a guide's answers lead: what to do next, and the matters to go to (ids of their kinds)."""

    id: str
    title: str
    what_next: str
    powers: NotRequired[list[str]]
    catalogue: NotRequired[list[str]]
    notices: NotRequired[list[str]]
    contacts: NotRequired[list[str]]


class Guide(TypedDict):
    """Guided questions (我要办), guides/<id>.yaml: the first question is asked first (sync/contract/guides.py)."""

    id: str
    title: str
    scope: str
    questions: list[GuideQuestion]
    endings: list[GuideEnding]
    summary: NotRequired[str]


class Holiday(TypedDict):
    """Days off (放假) of the official calendar, from *first* to *last* (one day without *last*)."""

    name: str
    first: str  # YYYY-MM-DD
    last: NotRequired[str]


class WorkingDay(TypedDict):
    """A make-up working day (调休上班): a Saturday or Sunday worked."""

    date: str  # YYYY-MM-DD
    name: NotRequired[str]


class CalendarYear(TypedDict):
    """calendar/<year>.yaml: one year's official calendar (sync/contract/official_calendar.py)."""

    year: int
    holidays: list[Holiday]
    working_days: NotRequired[list[WorkingDay]]
    notice: NotRequired[str]  # the State Council's notice it was checked against
    statutory_only: NotRequired[bool]  # only the holidays the law fixes: the notice is not out yet
    checked: NotRequired[bool]  # the county checked it against the notice
    source: NotRequired[str]  # where it was made from: holidays 0.108


@dataclass
class County:
    """A whole county's content, checked and normalised (plain JSON-able values)."""

    info: CountyInfo
    powers: list[Power] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    catalogue: list[CatalogueEntry] = field(default_factory=list)
    ten_ones: TenOnes = field(default_factory=lambda: TenOnes())
    contacts: list[Contact] = field(default_factory=list)
    media: dict[str, Path] = field(default_factory=dict)  # "media/x.jpg" -> file on disk
    duties: list[Duty] = field(default_factory=list)  # disclosure duties (公开事项清单)
    guides: list[Guide] = field(default_factory=list)  # guided questions (我要办), sync/contract/guides.py
    calendar: list[CalendarYear] = field(default_factory=list)  # the official calendar, a year each
    warnings: list["Problem"] = field(default_factory=list)  # published all the same; `validate` shows them

    def villages(self) -> list[dict[str, str]]:
        """Return every village with its township: code, name, township, township_name."""
        return [
            {"code": v["code"], "name": v["name"], "township": t["code"], "township_name": t["name"]}
            for t in self.info["townships"]
            for v in t["villages"]
        ]


class ContentInvalid(Exception):
    """The county's content has problems; nothing from it may be installed."""

    def __init__(self, problems: list["Problem"]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the content")
        self.problems = problems
