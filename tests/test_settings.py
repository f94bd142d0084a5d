"""Settings are read by their kind; a value one cannot be is refused naming the variable and the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.settings import SETTINGS, SettingError, folder, load_settings, text


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("KIOSK_PORT", "abc", "a whole number is needed, from 1 to 65535"),
        ("KIOSK_PORT", "0", "a whole number is needed, from 1 to 65535"),
        ("KIOSK_STAFF_PORT", "70000", "a whole number is needed, from 1 to 65535"),
        ("KIOSK_THREADS", "0", "a whole number is needed, at least 1"),
        ("KIOSK_SYNC_DEADLINE", "-5", "a whole number is needed"),
        ("KIOSK_PAGE_SIZE", "12.5", "a whole number is needed, at least 1"),
        ("KIOSK_SECURE_COOKIES", "maybe", "1 (yes) or 0 (no) is needed"),
        ("KIOSK_SYNC_NIGHTLY", "2", "1 (yes) or 0 (no) is needed"),
        ("KIOSK_DEFAULT_LOCALE", "fr", "must be one of zh, en"),
        ("KIOSK_LOG_LEVEL", "loud", "must be one of DEBUG, INFO, WARNING, ERROR"),
        ("KIOSK_SYNC_WINDOW", "1am-5am", "must look like 01:00-05:00"),
        ("KIOSK_SYNC_WINDOW", "03:00-03:00", "must not be empty"),
    ],
)
def test_a_value_a_setting_cannot_take_is_refused_naming_it(variable: str, value: str, says: str) -> None:
    with pytest.raises(SettingError) as refused:
        load_settings({variable: value})
    message = str(refused.value)
    assert variable in message and repr(value) in message and says in message, message


def test_every_setting_that_is_not_free_text_refuses_nonsense() -> None:
    for setting in SETTINGS:
        if setting.read in (text, folder):  # any text names a folder (a relative one from where the command starts)
            continue
        with pytest.raises(SettingError, match=setting.env):
            load_settings({setting.env: "nonsense"})


def test_values_are_read_by_their_kind() -> None:
    values = load_settings(
        {
            "KIOSK_SECURE_COOKIES": "yes",
            "KIOSK_SYNC_NIGHTLY": "Off",
            "KIOSK_LOG_LEVEL": "debug",
            "KIOSK_PORT": " 9001 ",
            "KIOSK_SYNC_WINDOW": " 23:30-02:00 ",
            "KIOSK_DATA_DIR": "~/kiosk-data",
        }
    )
    assert values["SECURE_COOKIES"] == 1 and values["SYNC_NIGHTLY"] == 0
    assert values["LOG_LEVEL"] == "DEBUG" and values["PORT"] == 9001 and values["SYNC_WINDOW"] == "23:30-02:00"
    assert values["DATA_DIR"] == str(Path.home() / "kiosk-data"), "systemd and env files do not expand ~"
    assert load_settings({"KIOSK_SECURE_COOKIES": ""})["SECURE_COOKIES"] == 0, "empty: the default"


def test_the_kiosk_command_says_which_setting_is_wrong_not_a_traceback() -> None:
    result = CliRunner().invoke(main, ["status"], env={"KIOSK_SECURE_COOKIES": "maybe"})
    assert result.exit_code == 2, result.output
    assert "KIOSK_SECURE_COOKIES='maybe': 1 (yes) or 0 (no) is needed" in result.output
    assert "Traceback" not in result.output
