"""Text people put into the store cannot hurt those who read it in a terminal: markup is shown, not parsed (no
crash, no restyling), and control characters are shown as escapes, never acted on (issue 21, items 4 and 5)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest
from store_support import ADMIN_PASSWORD, PASSWORD, make_world, tiny_plan, tiny_scenario

from command.authority import grant_command
from command.cli import main
from command.incidents import open_incident
from command.plans import create_plan, reject_plan, view_plan
from command.safe_text import clean
from command.users import add_user

ESC = "\x1b"
FAKE = "\x1b[2J\x1b[H\rapproved by ops"  # clear the screen, home the cursor, overwrite the line


def flat(text: str) -> str:
    """Output without the table frames and the line wrapping of a narrow terminal: what was written, in order."""
    return "".join(ch for ch in text if not ch.isspace() and ch not in "│┃┏━┳┓┡╇┩└┴┘─┬┐┌├┼┤╭╮╰╯")


def run(mp: pytest.MonkeyPatch, url: str, user: str, password: str, *args: str) -> tuple[int, str, str]:
    mp.setenv("YIWANG_USER", user)
    mp.setenv("YIWANG_PASSWORD", password)
    mp.setenv("COLUMNS", "400")  # a wide terminal: no cell cut short
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*args, "--db", url])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def tainted(tmp_path):  # type: ignore[no-untyped-def]
    """A store where an incident title, a display name, a rejection reason and a grant reason carry markup and
    terminal escape sequences."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    world = make_world(url)
    admin = world["admin"]
    add_user(world.store, admin, username="sly", password=PASSWORD, role="observer", jurisdiction="pudong",
             display_name="[red]Sly[/] [/x]" + FAKE)  # fmt: skip
    scenario = tiny_scenario()
    iid = open_incident(world.store, admin, scenario, jurisdiction="pudong", title="[/x] evil" + FAKE)
    grant_command(world.store, admin, iid, "cmd_pudong", hours=4, reason="[bold]x" + FAKE)
    pid = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    chief = world["cmd_pudong"]
    reject_plan(world.store, chief, pid, password=PASSWORD, shown=view_plan(world.store, chief, pid).shown(),
                reason="[/x] no" + FAKE)  # fmt: skip
    world.store.dispose()
    return url, iid, pid


def test_clean_shows_control_characters_as_escapes_and_keeps_the_rest():
    """Escape, carriage return, DEL, a C1 control and a right-to-left override become visible escapes; Chinese,
    tabs and new lines stay."""
    assert clean("a\x1b[2Jb\rc\x7fd\x9be\u202ef") == "a\\x1b[2Jb\\x0dc\\x7fd\\x9be\\u202ef"
    assert clean("外滩\t陈毅广场\n") == "外滩\t陈毅广场\n"


def test_markup_in_stored_text_is_shown_not_parsed(tainted, monkeypatch):  # type: ignore[no-untyped-def]
    """`incident list`, `users list` and `plan show` exit 0 for everyone who can see the text, and show it as
    written (with its escapes made visible)."""
    url, _, pid = tainted
    code, out, err = run(monkeypatch, url, "admin", ADMIN_PASSWORD, "incident", "list")
    assert code == 0, err
    assert "[/x]evil\\x1b[2J\\x1b[H\\x0dapprovedbyops" in flat(out)
    code, out, err = run(monkeypatch, url, "admin", ADMIN_PASSWORD, "users", "list")
    assert code == 0, err
    assert "[red]Sly[/][/x]\\x1b" in flat(out)
    code, out, err = run(monkeypatch, url, "cmd_pudong", PASSWORD, "plan", "show", str(pid))
    assert code == 0, err
    assert "[/x]no\\x1b[2J\\x1b[H\\x0dapprovedbyops" in flat(out)


def test_no_escape_sequence_reaches_another_users_terminal(tainted, monkeypatch):  # type: ignore[no-untyped-def]
    """An observer reading the incident's log sees the admin's grant reason with its escapes shown, and no
    escape or carriage return character in any output."""
    url, iid, _ = tainted
    code, out, err = run(monkeypatch, url, "obs_pudong", PASSWORD, "incident", "log", str(iid))
    assert code == 0, err
    assert "[bold]x\\x1b[2J\\x1b[H\\x0dapprovedbyops" in flat(out)
    for args in (("incident", "log", str(iid)), ("incident", "list"), ("incident", "show", str(iid))):
        code, out, err = run(monkeypatch, url, "obs_pudong", PASSWORD, *args)
        assert code == 0, (args, err)
        assert ESC not in out + err and "\r" not in out + err, args
