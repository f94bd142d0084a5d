"""Write a large, valid county source folder for benchmarks, deterministic from a seed.

The folder has the layout and formats of content/README.md (checked by ``sync.contract.content.load_county``):
county.yaml, powers/*.yaml, notices/*.md, catalogue/*.yaml (all 26 areas), ten_ones.yaml,
contacts.yaml and the demo county's calendar/ (公示期 are counted on it), in fictional but realistic
Chinese; optionally photos on a share of the notices
(media/*.png, 20 to 60 KB of noise each, as incompressible as real JPEG photos).

Usage, from the repository root:
    .venv/bin/python -m bench.generate_county OUT_DIR [--powers 5000] [--notices 5000] [--seed 1]
        [--county-share 0.5] [--photo-share 0.1]
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench import county_text as text
from kiosk.demo import DEMO_CONTENT
from sync.contract.checks import FolderReader
from sync.contract.dates import WorkCalendar, end_of_posting
from sync.contract.official_calendar import county_calendar, work_calendar
from sync.contract.procedure import FOUR_TWO
from sync.contract.schemas import load_schema

# Notice dates are laid out around this day unless the caller passes another, so that the output
# depends on the seed alone. bench/pages.py passes today: current and expired notices stay mixed.
ANCHOR_DAY = date(2026, 11, 20)
NUMERALS = "一二三四五六七八九十"
COUNTY_CODE, COUNTY_NAME = "wangchuan", "望川县（测评）"
POWER_COUNTY_SHARE, NOTICE_COUNTY_SHARE = 0.5, 0.4  # the default shares of county-wide items
PHOTO_BYTES = (20_000, 60_000)  # a generated photo's size range

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Place:
    """Where an item applies: kind 'village', 'township' or 'county', its code and its name."""

    kind: str
    code: str
    name: str


def _yaml(data: Any) -> str:
    return str(yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000))


def _phone(rng: random.Random) -> str:
    return f"0000-555{rng.randint(0, 9999):04d}"  # 0000-: fictional, cannot be dialled


def _person(rng: random.Random) -> str:
    return rng.choice(text.SURNAMES) + "".join(rng.sample(text.GIVEN, rng.randint(1, 2)))


def _townships(rng: random.Random) -> list[dict[str, Any]]:
    pairs = [(a, b) for a in text.VILLAGE_FIRST for b in text.VILLAGE_SECOND]
    rng.shuffle(pairs)
    used = {code for code, _ in text.TOWNSHIPS}
    townships = []
    for code, name in text.TOWNSHIPS:
        villages = []
        for _ in range(rng.randint(10, 16)):
            (pinyin1, char1), (pinyin2, char2) = pairs.pop()
            village_code, suffix = pinyin1 + pinyin2, 2
            while village_code in used:  # e.g. he+he from 荷/河; bounded by the few duplicates
                village_code, suffix = f"{pinyin1}{pinyin2}{suffix}", suffix + 1
            used.add(village_code)
            villages.append({"code": village_code, "name": f"{char1}{char2}村"})
        townships.append({"code": code, "name": name, "villages": villages})
    return townships


def _places(townships: list[dict[str, Any]]) -> tuple[list[Place], list[Place]]:
    return (
        [Place("township", t["code"], t["name"]) for t in townships],
        [Place("village", v["code"], v["name"]) for t in townships for v in t["villages"]],
    )


def _scope(rng: random.Random, townships: list[Place], villages: list[Place], county_share: float) -> Place:
    """Pick where an item applies: county-wide for *county_share*, else a township or a village, half each."""
    roll = rng.random()
    if roll < county_share:
        return Place("county", COUNTY_CODE, COUNTY_NAME.split("（")[0])
    return rng.choice(townships) if roll < county_share + (1 - county_share) / 2 else rng.choice(villages)


def _step(rng: random.Random, entry: tuple[str, str, str, str]) -> dict[str, Any]:
    step_id, title, actor, description = entry
    step: dict[str, Any] = {"id": step_id, "title": title, "actor": actor}
    if description and rng.random() < 0.6:
        step["description"] = description
    if rng.random() < 0.3:
        step["time_limit"] = rng.choice(text.STEP_TIME_LIMITS)
    return step


def _steps(rng: random.Random) -> list[dict[str, Any]]:
    """Return 4 to 10 steps (counting 四议两公开 as its six), some with a decision, some with 四议两公开."""
    total = rng.randint(4, 10)
    four_two = total >= 8 and rng.random() < 0.45
    decision = rng.random() < 0.45
    plain = total - (6 if four_two else 0)
    if decision and plain >= 4:
        plain -= 2  # the decision and the step its "no" branch leads to
    else:
        decision = False
    steps = [_step(rng, rng.choice(text.FIRST_STEPS))]
    middle = sorted(rng.sample(range(len(text.MIDDLE_STEPS)), plain - 2))  # kept in their usual order
    steps += [_step(rng, text.MIDDLE_STEPS[index]) for index in middle]
    steps.append(_step(rng, rng.choice(text.LAST_STEPS)))
    if four_two:
        steps.insert(rng.randint(1, len(steps) - 1), {"id": "decide", "procedure": FOUR_TWO})
    if decision:
        at = rng.randint(1, len(steps) - 1)
        title, actor, yes, no = rng.choice(text.REVIEWS)
        review: dict[str, Any] = {"id": "review", "title": title, "actor": actor}
        if rng.random() < 0.5:
            review["time_limit"] = rng.choice(text.STEP_TIME_LIMITS)
        if rng.random() < 0.2:  # incomplete papers go back to the first step
            other = {"id": "supplement", "title": "申请人补正材料", "actor": "申请人", "next": steps[0]["id"]}
            review["branches"] = [{"when": "材料齐全", "to": steps[at]["id"]}, {"when": "材料不全", "to": "supplement"}]
        else:
            other = {"id": "refuse", "title": "告知申请人并说明理由", "actor": actor, "end": True}
            review["branches"] = [{"when": yes, "to": steps[at]["id"]}, {"when": no, "to": "refuse"}]
        steps[at:at] = [review, other]
    return steps


def _power(rng: random.Random, number: int, scope: Place) -> dict[str, Any]:
    category = rng.choices(list(text.POWER_SUBJECTS), weights=[2, 2, 2, 2, 2, 4, 2, 2])[0]
    slug, subjects = text.POWER_SUBJECTS[category]
    subject = rng.choice(subjects)
    money = slug in ("juece", "gongcheng", "zichan", "caiwu")
    name = subject + rng.choice(text.QUALIFIERS + (text.MONEY_QUALIFIERS if money else []))
    if scope.kind == "village" and rng.random() < 0.5:
        name = scope.name + name
    responsible = rng.choice(text.RESPONSIBLE)
    item: dict[str, Any] = {"id": f"{slug}-{number:05d}", "name": name, "category": category}
    if category == "便民服务" and number % 10 == 0:  # the home screen's 我要办事 (no draw: the county stays as it was)
        item["keywords"] = [subject]
    if scope.kind != "county":
        item[scope.kind] = scope.code
    if rng.random() < 0.7:
        item["summary"] = rng.choice(text.SUMMARIES).format(subject=subject, responsible=responsible)
    item["basis"] = rng.sample(text.BASIS, rng.randint(1, 4))
    item["responsible"] = responsible
    if rng.random() < 0.8:
        item["participants"] = rng.sample(text.PARTICIPANTS, rng.randint(1, 5))
    if category in ("便民服务", "民生服务") or rng.random() < 0.3:
        item["materials"] = rng.sample(text.MATERIALS, rng.randint(1, 6))
    item["fee"] = "不收费" if rng.random() < 0.9 else "按规定标准收取工本费"
    item["time_limit"] = rng.choice(text.TIME_LIMITS)
    if rng.random() < 0.8:
        item["disclosure"] = {
            "content": rng.choice(text.DISCLOSURE_CONTENT),
            "where": rng.choice(text.DISCLOSURE_WHERE),
            "when": rng.choice(text.DISCLOSURE_WHEN),
        }
    item["supervision"] = {"body": rng.choice(text.SUPERVISION_BODIES), "phone": _phone(rng)}
    if rng.random() < 0.75:
        item["risks"] = [{"point": p, "control": c} for p, c in rng.sample(text.RISKS, rng.randint(1, 4))]
    if rng.random() < 0.6:
        item["accountability"] = rng.sample(text.ACCOUNTABILITY, rng.randint(1, 3))
    item["steps"] = _steps(rng)
    return item


def _fill(rng: random.Random, template: str, year: int) -> str:
    """Fill a line's placeholders with plausible numbers, names and dates."""
    month, day = rng.randint(1, 12), rng.randint(1, 20)
    return template.format(
        n=rng.randint(3, 60), m=rng.randint(2, 40), k=rng.randint(1, 9), p=rng.randint(85, 100),
        amount=f"{rng.randint(2_000, 900_000):,}", amount2=f"{rng.randint(1_000, 400_000):,}",
        amount3=f"{rng.randint(500, 90_000):,}", month=month, day=day, day2=min(28, day + rng.randint(3, 8)),
        year=year, person=_person(rng), person2=_person(rng),
    )  # fmt: skip


def _finance_table(rng: random.Random) -> str:
    rows = [f"| {row} | {rng.randint(300, 200_000):,}.00 | {rng.choice(['按月发放', '已入账', '凭票报销', '经审核'])} |"
            for row in rng.sample(text.FINANCE_ROWS, rng.randint(3, 6))]  # fmt: skip
    return "\n".join(["| 项目 | 金额（元） | 说明 |", "| --- | ---: | --- |", *rows])


def _notice_body(rng: random.Random, domain: str, place: Place, published: date) -> str:
    """Return Markdown of 200 to 1,500 characters: an introduction, numbered sections, a closing."""
    target = rng.randint(200, 1500)
    signer = place.name + ("党支部" if domain == "党务" else "村民委员会" if place.kind == "village" else "人民政府")
    signed = f"{signer}\n{published.year}年{published.month}月{published.day}日"
    closing = f"{rng.choice(text.CLOSINGS).format(phone=_phone(rng))}\n\n{signed}"
    blocks = [rng.choice(text.NOTICE_INTROS)]
    headings = rng.sample(text.NOTICE_HEADINGS[domain], len(text.NOTICE_HEADINGS[domain]))
    for number, heading in enumerate(headings):
        if domain == "财务" and rng.random() < 0.4:
            content = _finance_table(rng)
        else:
            chosen = rng.sample(text.NOTICE_LINES[domain], rng.randint(2, 4))
            lines = [_fill(rng, line, published.year) for line in chosen]
            content = "\n".join(f"- {line}" for line in lines) if rng.random() < 0.6 else "".join(lines)
        block = f"## {NUMERALS[number]}、{heading}\n\n{content}"
        length = sum(len(b) + 2 for b in blocks) + len(closing)
        if length >= max(target, 200) or length + len(block) + 2 > 1500:
            break
        blocks.append(block)
    return "\n\n".join([*blocks, closing])


def _notice_dates(rng: random.Random, today: date) -> dict[str, Any]:
    """Return published, and for most notices expires: some expired, some current, a few not yet out."""
    roll = rng.random()
    if roll < 0.02:
        published, expires = today + timedelta(days=rng.randint(1, 10)), None
    elif roll < 0.27:
        published = today - timedelta(days=rng.randint(30, 1000))
        expires = published + timedelta(days=rng.randint(7, (today - published).days - 1))
    elif roll < 0.62:
        published, expires = today - timedelta(days=rng.randint(0, 200)), today + timedelta(days=rng.randint(1, 180))
    else:
        published, expires = today - timedelta(days=rng.randint(0, 1000)), None
    dates: dict[str, Any] = {"published": published.isoformat()}
    if rng.random() < 0.3:
        dates["published"] += f" {rng.randint(8, 17):02d}:{rng.choice([0, 15, 30, 45]):02d}"
    if expires:
        dates["expires"] = expires.isoformat()
    current = published <= today and (expires is None or expires >= today)
    dates["pinned"] = current and rng.random() < 0.06
    return dates


def _notice(
    rng: random.Random, number: int, scope: Place, today: date, calendar: WorkCalendar, photos: list[str] | None = None
) -> tuple[str, str]:
    """Return a notice's file name and its text (front matter and Markdown), listing *photos* if any."""
    domain = rng.choice(list(text.NOTICE_DOMAINS))
    dates = _notice_dates(rng, today)
    published = date.fromisoformat(dates["published"][:10])
    title = rng.choice(text.NOTICE_TITLES[domain]).format(
        place=scope.name, year=published.year, q=NUMERALS[(published.month - 1) // 3],
        month=published.month, n=rng.randint(2, 6), person=_person(rng),
        project=rng.choice(text.PROJECTS), campaign=rng.choice(text.CAMPAIGNS),
    )  # fmt: skip
    notice_id = f"{text.NOTICE_DOMAINS[domain]}-{number:05d}"
    fields: dict[str, Any] = {"id": notice_id, "domain": domain, "title": title}
    if scope.kind != "county":
        fields[scope.kind] = scope.code
    fields["published"] = dates["published"]
    if "expires" in dates:
        fields["expires"] = dates["expires"]
    if dates["pinned"]:
        fields["pinned"] = True
    if rng.random() < 0.3:
        # A 公示期 only where the notice stays up long enough (the validator checks it).
        days = rng.choice([5, 7, 10, 15])
        if "expires" not in fields or date.fromisoformat(fields["expires"]) >= end_of_posting(
            published, days, calendar
        ):
            fields["min_posting_days"] = days
    if photos:
        fields["photos"] = photos
    body = _notice_body(rng, domain, scope, published)
    return f"{notice_id}.md", f"---\n{_yaml(fields)}---\n{body}\n"


def _catalogue_area(rng: random.Random, number: int, area: str) -> dict[str, Any]:
    items = []
    for index, level1 in enumerate(rng.sample(text.CATALOGUE_LEVEL1, rng.randint(2, 5))):
        item: dict[str, Any] = {"id": f"area{number:02d}-{index + 1}", "level1": level1}
        level2 = rng.choice(text.CATALOGUE_LEVEL2)
        if level2:
            item["level2"] = level2
        item.update(
            content=f"{area}领域{level1}{level2}的名称、内容、依据和办理结果",
            basis=["《中华人民共和国政府信息公开条例》", f"《{area}领域基层政务公开标准指引》"],
            time_limit="信息形成或变更之日起20个工作日内",
            body=f"县级{area}主管部门；乡镇人民政府",
            channels=rng.sample(text.CATALOGUE_CHANNELS, rng.randint(2, 4)),
            audience=rng.choice(["全社会", "特定群众"]),
            mode=rng.choice(["主动", "主动", "依申请"]),
            level=rng.choice([["县级"], ["乡级"], ["县级", "乡级"]]),
        )
        items.append(item)
    return {"area": area, "items": items}


def _contacts(rng: random.Random, townships: list[dict[str, Any]]) -> list[dict[str, Any]]:
    name = COUNTY_NAME.split("（")[0]
    contacts: list[dict[str, Any]] = [
        {"id": "xian-jiwei", "name": f"{name}纪委监委信访举报电话", "phone": "0000-12388", "kind": "supervision",
         "hours": "工作日 8:30—12:00，14:30—17:30"},
        {"id": "xian-rexian", "name": f"{name}政务服务便民热线", "phone": "0000-12345", "kind": "hotline",
         "hours": "24小时", "description": "政策咨询、投诉建议、求助。"},
        {"id": "xian-minzheng", "name": f"{name}民政局社会救助热线", "phone": _phone(rng), "kind": "hotline"},
    ]  # fmt: skip
    for township in townships:
        contacts.append({"id": f"{township['code']}-office", "name": f"{township['name']}党政办公室",
                         "phone": _phone(rng), "kind": "office", "township": township["code"]})  # fmt: skip
        for village in township["villages"]:
            contacts += [
                {"id": f"{village['code']}-office", "name": f"{village['name']}村民委员会", "phone": _phone(rng),
                 "kind": "office", "person": _person(rng), "village": village["code"]},
                {"id": f"{village['code']}-jiandu", "name": f"{village['name']}村务监督委员会", "phone": _phone(rng),
                 "kind": "supervision", "person": _person(rng), "village": village["code"]},
            ]  # fmt: skip
    return contacts


def _png(rng: random.Random, size: int) -> bytes:
    """Return a valid RGB PNG of about *size* bytes whose pixels are noise (so it does not compress)."""
    width = max(4, round((size / 3 * 4 / 3) ** 0.5))  # 4:3, three bytes a pixel
    rows = max(3, size // (3 * width + 1))
    pixels = b"".join(b"\0" + rng.randbytes(3 * width) for _ in range(rows))  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, rows, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels, 6)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _notice_photos(rng: random.Random, root: Path, number: int, share: float) -> list[str]:
    """Write 1 to 3 photos for a notice with chance *share*; return their references."""
    if share <= 0 or rng.random() >= share:
        return []
    refs = []
    for index in range(1, rng.choice([1, 1, 1, 2, 3]) + 1):
        ref = f"media/notice-{number:05d}-{index}.png"
        (root / ref).write_bytes(_png(rng, rng.randint(*PHOTO_BYTES)))
        refs.append(ref)
    return refs


def generate_county(
    root: Path,
    powers: int = 5000,
    notices: int = 5000,
    seed: int = 1,
    today: date = ANCHOR_DAY,
    *,
    county_share: float | None = None,
    photo_share: float = 0.0,
) -> Path:
    """Write a county source folder at *root* (which must be missing or empty) and return it.

    Half the power items and 40% of the notices are county-wide (or *county_share* of both), the
    rest split between one township and one village; notice dates are laid out around *today*.
    A *photo_share* of the notices get 1 to 3 photos in media/, drawn from a random stream of
    their own, so that the rest of the county is the same with or without photos.
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; give a new folder for the generated county")
    rng = random.Random(seed)
    photo_rng = random.Random(f"photos-{seed}")
    power_share = POWER_COUNTY_SHARE if county_share is None else county_share
    notice_share = NOTICE_COUNTY_SHARE if county_share is None else county_share
    for folder in ("powers", "notices", "catalogue", *(["media"] if photo_share > 0 else [])):
        (root / folder).mkdir(parents=True, exist_ok=True)
    townships = _townships(rng)
    county = {"code": COUNTY_CODE, "name": COUNTY_NAME, "sample": True,
              "public_base_url": f"https://gk.{COUNTY_CODE}.example.cn", "townships": townships}  # fmt: skip
    (root / "county.yaml").write_text(_yaml(county), encoding="utf-8")
    township_places, village_places = _places(townships)
    (root / "calendar").mkdir()  # the demo county's official calendar: 公示期 are counted on it
    for year in sorted((DEMO_CONTENT / "calendar").iterdir()):
        (root / "calendar" / year.name).write_bytes(year.read_bytes())
    calendar = work_calendar(county_calendar(FolderReader(root)))
    for number in range(1, powers + 1):
        item = _power(rng, number, _scope(rng, township_places, village_places, power_share))
        (root / "powers" / f"{item['id']}.yaml").write_text(_yaml(item), encoding="utf-8")
    for number in range(1, notices + 1):
        scope = _scope(rng, township_places, village_places, notice_share)
        photos = _notice_photos(photo_rng, root, number, photo_share)
        name, notice = _notice(rng, number, scope, today, calendar, photos)
        (root / "notices" / name).write_text(notice, encoding="utf-8")
    for number, area in enumerate(load_schema("catalogue")["properties"]["area"]["enum"], start=1):
        area_file = root / "catalogue" / f"area-{number:02d}.yaml"
        area_file.write_text(_yaml(_catalogue_area(rng, number, area)), encoding="utf-8")
    ten_ones = {"intro": f"{COUNTY_NAME}村级党群综合便民服务中心“十个一”建设标准（测评数据）。",
                "items": [{"title": t, "description": d} for t, d in text.TEN_ONES]}  # fmt: skip
    (root / "ten_ones.yaml").write_text(_yaml(ten_ones), encoding="utf-8")
    (root / "contacts.yaml").write_text(_yaml({"contacts": _contacts(rng, townships)}), encoding="utf-8")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a large benchmark county source folder.")
    parser.add_argument("out_dir", type=Path, help="folder to create (must be missing or empty)")
    parser.add_argument("--powers", type=int, default=5000, help="number of power items (default 5000)")
    parser.add_argument("--notices", type=int, default=5000, help="number of notices (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--county-share", type=float, help="share of county-wide items (default 0.5 powers, 0.4 notices)"
    )
    parser.add_argument("--photo-share", type=float, default=0.0, help="share of notices with photos (default 0)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        root = generate_county(
            args.out_dir, args.powers, args.notices, args.seed,
            county_share=args.county_share, photo_share=args.photo_share,
        )  # fmt: skip
    except FileExistsError as error:
        print(error, file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    print(f"wrote {args.powers} power items and {args.notices} notices to {root} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
