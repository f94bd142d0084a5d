"""The benchmark's county generator writes content the validator accepts (so bench/ cannot rot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.generate_county import generate_county
from sync.contract.content import load_county


def test_generated_county_is_valid_and_the_size_asked(tmp_path: Path) -> None:
    county = load_county(generate_county(tmp_path / "county", powers=60, notices=40, seed=3))
    assert len(county.powers) == 60 and len(county.notices) == 40
    assert any(p["four_two"] for p in county.powers)
    assert any(len(s["goes_to"]) > 1 for p in county.powers for s in p["steps"])
    assert {c["area"] for c in county.catalogue} and len({c["area"] for c in county.catalogue}) == 26


def test_same_seed_same_county(tmp_path: Path) -> None:
    first = generate_county(tmp_path / "a", powers=10, notices=10, seed=7)
    second = generate_county(tmp_path / "b", powers=10, notices=10, seed=7)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)


@pytest.mark.usefixtures("county_engine")  # its rows go in as SQL, which PostgreSQL must take too
def test_the_county_history_is_what_kiosks_would_have_sent(tmp_path: Path) -> None:
    """bench.county's history must pass the county's own checks, or its dashboard figures mean nothing."""
    import json

    from bench.county_history import RATINGS_PER_DAY, prefill
    from kiosk.county import payloads, store
    from kiosk.data import usage

    db = store.open_store(tmp_path)
    kiosks = [(store.add_kiosk(db, village)[0], village) for village in ("taoyuan", "liutang", "taoyuan")]
    db.execute("update kiosks set id = 20 where village = 'liutang'")  # every 20th kiosk takes one down
    kiosks[1] = (20, "liutang")
    db.close()
    line = prefill(tmp_path, kiosks, days=25)
    db = store.open_store(tmp_path)
    uploads = db.execute("select kind, payload from uploads").fetchall()
    assert uploads and all(payloads.problem(kind, json.loads(payload)) is None for kind, payload in uploads)
    assert db.execute("select sum(count) from rating_counts").fetchone()[0] == 3 * 25 * RATINGS_PER_DAY
    reasons = db.execute("select sum(count) from reason_counts where reason in ('slow', 'quick')").fetchone()[0]
    assert reasons == 3 * 25 * RATINGS_PER_DAY, "each rating here has one reason"
    opened = db.execute("select sum(count) from usage_county_counts where kind = 'power'").fetchone()[0]
    assert opened == db.execute("select sum(count) from usage_village_totals where kind = 'power'").fetchone()[0] > 0
    assert all(usage.valid_key(kind, key) for kind, key in db.execute("select kind, key from usage_county_counts"))
    gone = db.execute("select distinct kiosk_id from gone_from_logs").fetchall()
    db.close()
    assert [row[0] for row in gone] == [20] and "75 display logs" in line
