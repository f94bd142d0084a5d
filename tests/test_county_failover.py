"""One of the county's two server processes killed in the middle of a nightly burst (issue 18): the kiosks' requests
that it held, or that were on their way to it, are sent again to the other, and the county ends with what the
kiosks sent, each report and upload once."""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest

from bench.county_kiosks import (
    FEEDBACK_PER_KIOSK,
    UPLOADS_PER_KIOSK,
    KioskClient,
    SimulatedKiosk,
    Tally,
    enrol_kiosks,
    outbox_body,
    report_body,
)
from kiosk.county import store as county_store
from tests.county_processes import county_servers
from tests.county_repo import VILLAGE, CountyRepo

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

KIOSKS = 1000
CLIENTS = 16  # kiosks sending at once
TRIES = 8  # a kiosk's tries of one request (kiosk/device/uplink.py makes six a report, and reports again later)
JOIN_S = 600.0


def test_a_process_killed_mid_burst_loses_no_report_or_upload_and_keeps_none_twice(
    county_repo: CountyRepo, tmp_path: Path
) -> None:
    data = tmp_path / "county"
    kiosks = enrol_kiosks(data, [VILLAGE], KIOSKS)
    tallies = [Tally() for _ in range(CLIENTS)]
    finished = [0]
    lock = threading.Lock()
    with county_servers(county_repo.path, data, 2, {"KIOSK_DEFAULT_LOCALE": "en"}) as (urls, processes):
        ports = [int(url.rsplit(":", 1)[1]) for url in urls]
        victim = processes[1]

        def send(mine: list[SimulatedKiosk], tally: Tally) -> None:
            client = KioskClient(
                ports, tries=TRIES
            )  # a kiosk goes first to the process its id gives, half to the victim
            try:
                for kiosk in mine:
                    client.post(kiosk, "/api/report", report_body(kiosk, 0), tally)
                    answer = client.post(kiosk, "/api/outbox", outbox_body(kiosk), tally)
                    if answer is not None and len(json.loads(answer)["acked"]) != UPLOADS_PER_KIOSK:
                        tally.fail("not every key acknowledged")
                    with lock:
                        finished[0] += 1
                        if finished[0] == KIOSKS // 3:  # a third of the way: other requests are in flight
                            victim.send_signal(signal.SIGKILL)
            finally:
                client.close()

        share = -(-KIOSKS // CLIENTS)  # each client's kiosks in a row: it sends to both processes in turn
        threads = [threading.Thread(target=send, args=(kiosks[n * share : (n + 1) * share], tallies[n]))
                   for n in range(CLIENTS)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_S)
        assert not any(thread.is_alive() for thread in threads)
        assert victim.wait(30) == -signal.SIGKILL

    errors = sum((Counter(tally.errors) for tally in tallies), Counter())
    retried = sum((Counter(tally.retried) for tally in tallies), Counter())
    assert not errors, errors
    refused = sum(n for what, n in retried.items() if "Refused" in what)
    assert refused > KIOSKS // 4, f"after the kill, the kiosks that went first to it went to the other: {retried}"
    db = county_store.open_store(data)
    try:
        reports, senders = db.execute("select count(*), count(distinct kiosk_id) from reports").fetchone()
        assert (reports, senders) == (KIOSKS, KIOSKS), "each kiosk's report kept once"
        kinds = dict(db.execute("select kind, count(*) from uploads group by kind").fetchall())
        assert kinds == {"feedback": KIOSKS * FEEDBACK_PER_KIOSK, "display_log": KIOSKS}
        assert db.execute("select sum(count) from rating_counts").fetchone()[0] == KIOSKS * FEEDBACK_PER_KIOSK
        assert db.execute("select count(*) from daily_display_logs").fetchone()[0] == KIOSKS
        assert db.execute("select count(*) from rejected_uploads").fetchone()[0] == 0
    finally:
        db.close()
