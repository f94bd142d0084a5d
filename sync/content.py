"""The content model: load a county's source folder into checked, normalised content.

Nothing partial is ever returned: ``load_county`` either gives the whole county or raises
``ContentInvalid`` listing every problem found, each with file, line and field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .procedure import FOUR_TWO, expand_steps, step_ids
from .render import render_markdown
from .schemas import Problem, field_name, load_schema, schema_problems
from .source import SourceError, SourceFile, read_markdown, read_yaml

MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


class ContentInvalid(Exception):
    """The county's content has problems; nothing from it may be installed."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the content")
        self.problems = problems


@dataclass
class County:
    """A whole county's content, checked and normalised (plain JSON-able values)."""

    info: dict[str, Any]
    powers: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    catalogue: list[dict[str, Any]] = field(default_factory=list)
    ten_ones: dict[str, Any] = field(default_factory=dict)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, Path] = field(default_factory=dict)  # "media/x.jpg" -> file on disk

    def villages(self) -> list[dict[str, str]]:
        """Return every village with its township: code, name, township, township_name."""
        return [
            {"code": v["code"], "name": v["name"], "township": t["code"], "township_name": t["name"]}
            for t in self.info["townships"]
            for v in t["villages"]
        ]


def parse_moment(text: str, end_of_day: bool = False) -> datetime:
    """Parse 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM'; a date alone means its start (or end)."""
    if len(text) == 10:
        moment = datetime.strptime(text, "%Y-%m-%d")
        return moment.replace(hour=23, minute=59, second=59) if end_of_day else moment
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


def media_digest(file: Path) -> str:
    """Return the SHA-256 of a media file, hex."""
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def problem(self, source: SourceFile, where: tuple[str | int, ...], message: str) -> None:
        self.problems.append(Problem(source.path, source.line_of(where), field_name(where), message))

    def read(self, relative: str, schema: str, markdown: bool = False) -> SourceFile | None:
        try:
            file = self.root / relative
            source = read_markdown(file, relative) if markdown else read_yaml(file, relative)
        except SourceError as error:
            self.problems.append(Problem(error.path, error.line, "", error.message))
            return None
        found = schema_problems(source, schema)
        self.problems.extend(found)
        return None if found else source

    def read_all(self, folder: str, pattern: str, schema: str, markdown: bool = False) -> list[SourceFile]:
        files = sorted((self.root / folder).glob(pattern)) if (self.root / folder).is_dir() else []
        read = [self.read(f"{folder}/{file.name}", schema, markdown) for file in files]
        return [source for source in read if source is not None]

    def check_media(self, source: SourceFile, where: tuple[str | int, ...], ref: str, media: dict[str, Path]) -> None:
        file = self.root / ref
        if not file.is_file():
            self.problem(source, where, f"{ref} does not exist in the county folder")
        else:
            media[ref] = file

    def check_scope(self, source: SourceFile, places: dict[str, set[str]], at: tuple[str | int, ...] = ()) -> str:
        data = source.data
        for step in at:
            data = data[step]
        if "village" in data and "township" in data:
            self.problem(source, (*at, "township"), "give village or township, not both")
        for kind in ("village", "township"):
            if kind in data:
                if data[kind] not in places[kind]:
                    self.problem(source, (*at, kind), f"no {kind} with code {data[kind]!r} in county.yaml")
                return f"{kind}:{data[kind]}"
        return "county"

    def check_unique(
        self, seen: dict[str, str], key: str, source: SourceFile, where: tuple[str | int, ...], what: str
    ) -> None:
        if key in seen:
            self.problem(source, where, f"duplicate {what} {key!r}, already used in {seen[key]}")
        else:
            seen[key] = f"{source.path}:{source.line_of(where)}"

    def check_steps(self, source: SourceFile) -> None:
        steps = source.data["steps"]
        seen: dict[str, str] = {}
        for index, step in enumerate(steps):
            self.check_unique(seen, step["id"], source, ("steps", index, "id"), "step id")
        ids = step_ids(steps)
        for index, step in enumerate(steps):
            targets: list[tuple[tuple[str | int, ...], str]] = [(("next",), step["next"])] if "next" in step else []
            targets += [(("branches", n, "to"), b["to"]) for n, b in enumerate(step.get("branches", []))]
            for key, target in targets:
                if target not in ids:
                    where = ("steps", index, *key)
                    self.problem(
                        source, where, f"step {target!r} does not exist in this item; steps: {', '.join(sorted(ids))}"
                    )


def load_county(root: Path) -> County:
    """Load and check every file of the county folder *root*; raise ContentInvalid on any problem."""
    root = Path(root)
    loader = _Loader(root)
    if not (root / "county.yaml").is_file():
        raise ContentInvalid(
            [Problem("county.yaml", 1, "", f"missing: {root} has no county.yaml, is it a county folder?")]
        )
    county_source = loader.read("county.yaml", "county")
    places: dict[str, set[str]] = {"village": set(), "township": set()}
    if county_source:
        seen: dict[str, str] = {}
        for t, township in enumerate(county_source.data["townships"]):
            loader.check_unique(seen, township["code"], county_source, ("townships", t, "code"), "code")
            places["township"].add(township["code"])
            for v, village in enumerate(township["villages"]):
                loader.check_unique(
                    seen, village["code"], county_source, ("townships", t, "villages", v, "code"), "code"
                )
                places["village"].add(village["code"])
    media: dict[str, Path] = {}

    powers: list[dict[str, Any]] = []
    seen_powers: dict[str, str] = {}
    for source in loader.read_all("powers", "*.yaml", "power"):
        data = source.data
        loader.check_unique(seen_powers, data["id"], source, ("id",), "power item id")
        scope = loader.check_scope(source, places)
        loader.check_steps(source)
        steps = expand_steps(data["steps"])
        item = {k: v for k, v in data.items() if k not in ("steps", "village", "township")}
        uses_four_two = any(s.get("procedure") == FOUR_TWO for s in steps)
        powers.append({**item, "scope": scope, "steps": steps, "four_two": uses_four_two})

    notices: list[dict[str, Any]] = []
    seen_notices: dict[str, str] = {}
    for source in loader.read_all("notices", "*.md", "notice", markdown=True):
        data = source.data
        loader.check_unique(seen_notices, data["id"], source, ("id",), "notice id")
        scope = loader.check_scope(source, places)
        for n, photo in enumerate(data.get("photos", [])):
            loader.check_media(source, ("photos", n), photo, media)
        published = parse_moment(data["published"])
        expires = parse_moment(data["expires"], end_of_day=True) if "expires" in data else None
        if expires and expires <= published:
            loader.problem(source, ("expires",), f"{data['expires']} is not after published {data['published']}")
        if not source.body:
            loader.problem(source, (), "the notice has no text below its fields")
        item = {k: v for k, v in data.items() if k not in ("village", "township")}
        notices.append(
            {
                **item,
                "scope": scope,
                "pinned": bool(data.get("pinned")),
                "published_at": published.isoformat(sep=" "),
                "expires_at": expires.isoformat(sep=" ") if expires else None,
                "body_html": render_markdown(source.body),
                "body_text": source.body,
            }
        )

    areas = load_schema("catalogue")["properties"]["area"]["enum"]
    catalogue: list[dict[str, Any]] = []
    seen_areas: dict[str, str] = {}
    seen_items: dict[str, str] = {}
    for source in loader.read_all("catalogue", "*.yaml", "catalogue"):
        loader.check_unique(seen_areas, source.data["area"], source, ("area",), "catalogue area")
        for n, entry in enumerate(source.data["items"]):
            loader.check_unique(seen_items, entry["id"], source, ("items", n, "id"), "catalogue item id")
            catalogue.append({**entry, "area": source.data["area"], "area_order": areas.index(source.data["area"])})

    ten_ones: dict[str, Any] = {}
    ten_source = loader.read("ten_ones.yaml", "ten_ones") if (root / "ten_ones.yaml").is_file() else None
    if ten_source:
        for n, entry in enumerate(ten_source.data["items"]):
            if "photo" in entry:
                loader.check_media(ten_source, ("items", n, "photo"), entry["photo"], media)
        ten_ones = ten_source.data

    contacts: list[dict[str, Any]] = []
    contact_source = loader.read("contacts.yaml", "contacts") if (root / "contacts.yaml").is_file() else None
    if contact_source:
        seen_contacts: dict[str, str] = {}
        for n, entry in enumerate(contact_source.data["contacts"]):
            loader.check_unique(seen_contacts, entry["id"], contact_source, ("contacts", n, "id"), "contact id")
            scope = loader.check_scope(contact_source, places, ("contacts", n))
            contacts.append({**{k: v for k, v in entry.items() if k not in ("village", "township")}, "scope": scope})

    for name in ("ten_ones.yaml", "contacts.yaml"):
        if not (root / name).is_file():
            loader.problems.append(Problem(name, 1, "", "missing: every county publishes this file"))
    if loader.problems:
        raise ContentInvalid(sorted(set(loader.problems), key=lambda p: (p.path, p.line, p.field)))
    assert county_source is not None
    return County(county_source.data, powers, notices, catalogue, ten_ones, contacts, media)
