"""`helpline advisors`: accounts are made, listed, changed and removed from the command line;
passwords are asked for (never options, never echoed), phones are checked, numbers masked."""

from __future__ import annotations

import pytest
import redis
from click.testing import CliRunner, Result

from ivr.cli import main
from ivr.store.accounts import MIN_PASSWORD, Accounts
from tests.common import DATA_KEY, LOOKUP_KEY, SEALER

PASSWORD = "a long secret passphrase"
NEW_PASSWORD = "another long passphrase"
PHONE = "+447400123456"


@pytest.fixture
def helpline(store: redis.Redis, store_settings: dict[str, object], monkeypatch):
    """Runs `helpline …` against the test Redis; the password typed twice as asked."""
    monkeypatch.setenv("REDIS_URL", str(store_settings.get("redis_url", "")))
    monkeypatch.setenv("DATA_KEY", DATA_KEY)
    monkeypatch.setenv("LOOKUP_KEY", LOOKUP_KEY)
    if store_settings.get("data_dir"):
        monkeypatch.setenv("HELPLINE_DATA_DIR", str(store_settings["data_dir"]))

    def run(*args: str, password: str | None = None) -> Result:
        typed = f"{password}\n{password}\n" if password is not None else None
        result = CliRunner().invoke(main, list(args), input=typed)
        if password:
            assert password not in result.output
        return result

    return run


def test_adding_an_advisor(helpline, store):
    result = helpline("advisors", "add", "Alex Smith", "--phone", PHONE, password=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "added alex-smith" in result.output
    assert "(supervisor)" not in result.output
    alex = Accounts(store, SEALER).get("alex-smith")
    assert (alex.name, alex.phone, alex.supervisor, alex.on_duty) == (
        "Alex Smith",
        PHONE,
        False,
        False,
    )
    assert Accounts(store, SEALER).verify("alex-smith", PASSWORD) == alex
    assert PASSWORD not in str(store.hgetall("hl:adv:alex-smith"))  # hashed, not kept


def test_adding_a_supervisor(helpline, store):
    result = helpline("advisors", "add", "Sam", "--phone", PHONE, "--supervisor", password=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "added sam (supervisor)" in result.output
    assert Accounts(store, SEALER).get("sam").supervisor


def test_an_advisor_who_speaks_welsh(helpline, store):
    """Issue 14: a Welsh speaker takes Welsh callers first; nobody speaks it unless told."""
    result = helpline("advisors", "add", "Rhys", "--phone", PHONE, "--welsh", password=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "added rhys, speaks Welsh" in result.output
    helpline("advisors", "add", "Alex", "--phone", PHONE, password=PASSWORD)
    accounts = Accounts(store, SEALER)
    assert accounts.get("rhys").welsh and not accounts.get("alex").welsh
    listed = helpline("advisors", "list").output.splitlines()
    assert ["speaks Welsh" in line for line in listed] == [False, True]  # alex, rhys


def test_the_password_is_asked_for_twice_and_never_shown(helpline, store):
    result = helpline("advisors", "add", "Alex", "--phone", PHONE, password=PASSWORD)
    assert result.output.count("Password") == 1
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output


def test_two_different_passwords_add_nobody(helpline, store):
    result = CliRunner().invoke(
        main, ["advisors", "add", "Alex", "--phone", PHONE], input=f"{PASSWORD}\n{NEW_PASSWORD}\n"
    )
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert PASSWORD not in result.output and NEW_PASSWORD not in result.output
    assert Accounts(store, SEALER).all() == []


def test_a_password_cannot_be_given_as_an_option(helpline, store):
    result = helpline("advisors", "add", "Alex", "--phone", PHONE, "--password", PASSWORD)
    assert result.exit_code == 2
    assert Accounts(store, SEALER).all() == []


@pytest.mark.parametrize(
    "written",
    [
        "07400 123456",
        "07400123456",
        "(07400) 123 456",
        "+44 7400 123456",
        "+44 (0)7400 123456",
        "+44-7400-123456",
        "0044 7400 123456",
    ],
)
def test_a_phone_as_people_write_it_is_kept_as_twilio_dials_it(helpline, store, written):
    result = helpline("advisors", "add", "Alex", "--phone", written, password=PASSWORD)
    assert result.exit_code == 0, result.output
    assert Accounts(store, SEALER).get("alex").phone == PHONE  # exactly what Twilio dials


@pytest.mark.parametrize(
    ("phone", "why"),
    [
        ("999", "999 is an emergency or police number"),
        ("112", "112 is an emergency or police number"),
        ("+44101", "+44101 is an emergency or police number"),
        ("07400 12345", "07400 12345 is not a valid phone number"),
        ("+447700900123", "+447700900123 is not a valid phone number"),
        ("call me", "call me is not a phone number"),
    ],
)
def test_a_phone_that_cannot_be_dialled_is_refused_before_any_password(helpline, store, phone, why):
    result = CliRunner().invoke(main, ["advisors", "add", "Alex", "--phone", phone])
    assert result.exit_code == 1
    assert why in result.output  # what was typed: it is staff's own number
    assert "for example 07400 123456 or +44 7400 123456" in result.output
    assert "Password" not in result.output  # refused before anyone types a password
    assert Accounts(store, SEALER).all() == []


def test_the_example_phone_in_the_help_is_one_we_accept(helpline, store):
    help_text = " ".join(helpline("advisors", "add", "--help").output.split())
    example = help_text.split("--phone TEXT")[1].split("e.g. ")[1].split(" or ")[0]
    result = helpline("advisors", "add", "Alex", "--phone", example, password=PASSWORD)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("password", ["short", "x" * (MIN_PASSWORD - 1)])
def test_a_short_password_is_refused(helpline, store, password):
    result = helpline("advisors", "add", "Alex", "--phone", PHONE, password=password)
    assert result.exit_code == 1
    assert f"a password needs at least {MIN_PASSWORD} characters" in result.output
    assert Accounts(store, SEALER).all() == []


def test_a_name_cannot_be_used_twice(helpline, store):
    helpline("advisors", "add", "Alex", "--phone", PHONE, password=PASSWORD)
    result = helpline("advisors", "add", "alex", "--phone", "+447400123457", password=NEW_PASSWORD)
    assert result.exit_code == 1
    assert "there is already an advisor called alex" in result.output
    assert Accounts(store, SEALER).get("alex").phone == PHONE
    assert Accounts(store, SEALER).verify("alex", PASSWORD) is not None


def test_the_list_masks_phones(helpline, store):
    assert "No advisors yet" in helpline("advisors", "list").output
    helpline("advisors", "add", "Alex Smith", "--phone", PHONE, password=PASSWORD)
    helpline(
        "advisors", "add", "Sam", "--phone", "+447400123457", "--supervisor", password=PASSWORD
    )
    Accounts(store, SEALER).set_on_duty("sam", True)
    result = helpline("advisors", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:3] == ["alex-smith", "Alex", "Smith"]
    assert "***456" in lines[0] and "advisor" in lines[0] and "off duty" in lines[0]
    assert "***457" in lines[1] and "supervisor" in lines[1] and "on duty" in lines[1]
    assert "7400123456" not in result.output and "7400123457" not in result.output


def test_changing_a_password(helpline, store):
    helpline("advisors", "add", "Alex", "--phone", PHONE, password=PASSWORD)
    result = helpline("advisors", "set-password", "alex", password=NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "password changed for alex" in result.output
    assert Accounts(store, SEALER).verify("alex", NEW_PASSWORD) is not None
    assert Accounts(store, SEALER).verify("alex", PASSWORD) is None


def test_a_new_password_too_short_changes_nothing(helpline, store):
    helpline("advisors", "add", "Alex", "--phone", PHONE, password=PASSWORD)
    result = helpline("advisors", "set-password", "alex", password="short")
    assert result.exit_code == 1
    assert f"at least {MIN_PASSWORD} characters" in result.output
    assert Accounts(store, SEALER).verify("alex", PASSWORD) is not None


def test_no_password_for_someone_who_is_not_there(helpline, store):
    result = helpline("advisors", "set-password", "nobody", password=NEW_PASSWORD)
    assert result.exit_code == 1
    assert "no advisor nobody" in result.output
    assert not store.exists("hl:adv:nobody")


def test_removing_an_advisor(helpline, store):
    helpline("advisors", "add", "Alex", "--phone", PHONE, password=PASSWORD)
    result = helpline("advisors", "remove", "alex")
    assert result.exit_code == 0
    assert "removed alex" in result.output
    assert Accounts(store, SEALER).get("alex") is None
    assert Accounts(store, SEALER).verify("alex", PASSWORD) is None
    assert "No advisors yet" in helpline("advisors", "list").output
    again = helpline("advisors", "remove", "alex")
    assert again.exit_code == 1
    assert "no advisor alex" in again.output
