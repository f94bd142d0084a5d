"""The screens' socket handed over by the service manager (deploy/village-kiosk.socket): a restart of the
screens, as `kiosk update` makes on a new release, never refuses a page; it only makes it wait."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.wire import free_port, start_on_socket, stop_process
from kiosk.device.listening import SCREENS, inherited_socket

SERVE_ENV = {"KIOSK_SYNC_NIGHTLY": "0", "KIOSK_REPORT_MINUTES": "0", "KIOSK_UPDATE_NIGHTLY": "0"}


def _serve_command(data: Path) -> list[str]:
    return [sys.executable, "-m", "kiosk.cli", "serve", "--data", str(data)]


def _environment(staff_port: int) -> dict[str, str]:
    return {**os.environ, **SERVE_ENV, "KIOSK_STAFF_PORT": str(staff_port)}


def _health(url: str, timeout: float = 10) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as answer:
        found: dict[str, Any] = json.loads(answer.read(4096))
        return found


def _stop(process: subprocess.Popen[str]) -> None:
    stop_process(process)
    process.communicate(timeout=10)  # and its pipes closed


def _until_healthy(url: str, process: subprocess.Popen[str]) -> None:
    for _ in range(300):  # 30 s at most
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            _health(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the screens never answered")


def test_systemd_socket_activation_hands_the_screens_their_socket(demo_data: Path, tmp_path: Path) -> None:
    """Through systemd's own implementation of the protocol (systemd-socket-activate, Debian's systemd)."""
    activate = shutil.which("systemd-socket-activate")
    assert activate, "systemd-socket-activate is missing: install Debian's systemd package (scripts/test does)"
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    port = free_port()
    process = subprocess.Popen(
        [activate, "-l", f"127.0.0.1:{port}", f"--fdname={SCREENS}", *_serve_command(data)],
        env=_environment(free_port()), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _until_healthy(f"http://127.0.0.1:{port}", process)
        # The port came from the service manager: `kiosk serve` bound nothing of its own (KIOSK_PORT is 8080).
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as home:
            assert home.status == 200 and "村" in home.read().decode("utf-8")
    finally:
        _stop(process)


def _spawn_with_socket(listening: socket.socket, data: Path, staff_port: int) -> subprocess.Popen[str]:
    return start_on_socket(listening, _serve_command(data), env=_environment(staff_port), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_a_restart_of_the_screens_makes_pages_wait_never_fail(demo_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    listening = socket.create_server(("127.0.0.1", 0), backlog=64)  # what systemd holds across restarts
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    staff_port = free_port()
    first = _spawn_with_socket(listening, data, staff_port)
    answers: list[str] = []
    stop = threading.Event()

    def poll() -> None:  # the kiosk's browser, asking every 50 ms
        for _ in range(2000):  # bounded: 100 s at most
            if stop.is_set():
                return
            try:
                answers.append(str(_health(url, timeout=20)["version"]))
            except OSError as error:
                answers.append(f"failed: {error}")
            time.sleep(0.05)

    try:
        _until_healthy(url, first)
        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.5)
        _stop(first)  # systemctl restart: the old screens stop...
        gap_from = len(answers)
        second = _spawn_with_socket(listening, data, staff_port)  # ...and the new ones start on the same socket
        try:
            _until_healthy(url, second)
            time.sleep(0.5)
        finally:
            stop.set()
            poller.join(timeout=60)
            _stop(second)
    finally:
        listening.close()
    failed = [answer for answer in answers if answer.startswith("failed")]
    assert not failed, f"a page failed during the restart: {failed[:3]}"
    assert len(answers) > gap_from + 3, "pages were asked for through the restart"


def test_a_page_under_way_when_the_screens_are_stopped_is_answered_whole(demo_data: Path, tmp_path: Path) -> None:
    """systemctl restart sends SIGTERM: the screens take no new connection, answer the one they had, then end."""
    data, slow = tmp_path / "data", tmp_path / "bin"
    shutil.copytree(demo_data, data)
    slow.mkdir()
    voice = shutil.which("espeak-ng")
    assert voice, "espeak-ng is missing: install Debian's espeak-ng package (scripts/test does)"
    (slow / "espeak-ng").write_text(f'#!/bin/sh\nsleep 1.5\nexec {voice} "$@"\n')  # a slow board's voice
    (slow / "espeak-ng").chmod(0o755)
    listening = socket.create_server(("127.0.0.1", 0), backlog=64)
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    env = {**_environment(free_port()), "PATH": f"{slow}:{os.environ['PATH']}"}
    first = start_on_socket(listening, _serve_command(data), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    answer: dict[str, Any] = {}

    def listen() -> None:  # a villager tapped 朗读 just before the restart
        try:
            with urllib.request.urlopen(f"{url}/speech/power/dibao-shenqing.wav", timeout=30) as audio:
                answer.update(status=audio.status, length=int(audio.headers["Content-Length"]), body=audio.read())
        except OSError as error:
            answer["error"] = str(error)

    try:
        _until_healthy(url, first)
        listener = threading.Thread(target=listen)
        listener.start()
        time.sleep(0.5)  # the audio is being made
        first.terminate()  # what systemctl restart sends first
        assert first.wait(timeout=20) == 0, "the screens end by themselves once the page is answered"
        listener.join(timeout=30)
        assert "error" not in answer, f"the page under way was cut off: {answer.get('error')}"
        assert answer["status"] == 200 and len(answer["body"]) == answer["length"] > 1000
        assert answer["body"].startswith(b"RIFF"), "a whole WAV file"
        second = _spawn_with_socket(listening, data, free_port())
        try:
            _until_healthy(url, second)  # and the next screens take the socket on
        finally:
            _stop(second)
    finally:
        if first.poll() is None:
            _stop(first)
        first.communicate(timeout=10)
        listening.close()


def test_screens_started_in_a_shells_background_stop_on_sigterm(demo_data: Path, tmp_path: Path) -> None:
    """A shell's background job ignores SIGINT (`kiosk demo &`, nohup): the stop must not depend on it."""
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    listening = socket.create_server(("127.0.0.1", 0), backlog=64)
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    background = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *_serve_command(data)]  # as `&` leaves SIGINT
    screens = start_on_socket(listening, background, env=_environment(free_port()), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _until_healthy(url, screens)
        screens.terminate()
        assert screens.wait(timeout=20) == 0, "stopped by SIGTERM, with SIGINT ignored"
    finally:
        if screens.poll() is None:
            screens.kill()
        screens.communicate(timeout=10)
        listening.close()


def test_without_a_handed_socket_or_one_meant_for_another_process_nothing_is_taken() -> None:
    assert inherited_socket(environ={}) is None
    other = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1", "LISTEN_FDNAMES": SCREENS}
    assert inherited_socket(environ=other) is None
    assert "LISTEN_FDS" not in other, "read once: a child process never takes the sockets"
    assert inherited_socket(environ={"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "1",
                                     "LISTEN_FDNAMES": "staff"}) is None  # fmt: skip
