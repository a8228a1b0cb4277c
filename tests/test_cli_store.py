"""The store commands of `yiwang`, run in-process through `command.cli.main` on SQLite files.

Each `main` call opens its own store, as separate runs of the command would. Output is read by redirecting
standard output and error (the shared store for the refusal table is built in a module-scoped fixture, where
the function-scoped `capsys` is not available).
"""

from __future__ import annotations

import io
import json
import shlex
import sqlite3
from contextlib import closing, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from command.audit import entry_hash
from command.cli import main
from scenarios import load_scenario
from scenarios.defaults import default_plan

DATA = Path(__file__).parent / "data"
SCENARIO = str(DATA / "one_site_mmc.yaml")

#: user name -> (role, jurisdiction, password); no password contains its user name (the policy forbids it).
PEOPLE = {
    "admin": ("admin", "shanghai", "root secret 2026"),
    "planner_sh": ("planner", "shanghai", "plans for the city"),
    "cmd_pd": ("commander", "pudong", "holds the east bank"),
    "cmd_pd2": ("commander", "pudong", "second on the east bank"),
    "obs_xh": ("observer", "xuhui", "watches from the west"),
}
LOGIN_ACTIONS = {"login", "login_failed", "login_locked"}
#: The columns a refused log-in changes on purpose (the lock-out counter), left out of the snapshots.
LOCKOUT_COLUMNS = {"failed_logins", "locked_until"}
#: The tables a refused log-in changes on purpose (each source's back-off), left out likewise.
LOGIN_TABLES = {"audit_log", "audit_head", "login_backoff"}

#: A store's content: per table, the column names and then every row in storage order.
Dump = dict[str, list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def yiwang(mp: pytest.MonkeyPatch, *args: object, user: str | None = None, password: str | None = None,
           new_password: str | None = None) -> Outcome:  # fmt: skip
    """Run `yiwang ARGS` in-process as `user`; the exit code and output.

    The password is `PEOPLE`'s unless given; an empty one leaves YIWANG_PASSWORD unset.
    """
    if user is not None and password is None and user in PEOPLE:
        password = PEOPLE[user][2]
    password = password or None
    for name, value in (("YIWANG_USER", user), ("YIWANG_PASSWORD", password), ("YIWANG_NEW_PASSWORD", new_password)):
        if value is None:
            mp.delenv(name, raising=False)
        else:
            mp.setenv(name, value)
    mp.delenv("YIWANG_DATABASE_URL", raising=False)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return Outcome(code, out.getvalue(), err.getvalue())


def ok(result: Outcome) -> Outcome:
    assert result.code == 0, result.err
    return result


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def add_people(mp: pytest.MonkeyPatch, db: Path, names: list[str]) -> None:
    """`users add` each named person of `PEOPLE`, as the admin."""
    for name in names:
        role, jurisdiction, password = PEOPLE[name]
        ok(yiwang(mp, "users", "add", name, "--role", role, "--jurisdiction", jurisdiction, "--db", url(db),
                  user="admin", new_password=password))  # fmt: skip


def init_store(mp: pytest.MonkeyPatch, db: Path) -> None:
    ok(yiwang(mp, "init", "--db", url(db), new_password=PEOPLE["admin"][2]))


# ------------------------------------------------------------------------------------------ store snapshots


def copy_store(src: Path, dst: Path) -> Path:
    """A consistent copy of a SQLite store, committed WAL content included (the backup API)."""
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    return dst


def dump(path: Path) -> Dump:
    """Every row of every table (`{}` when there is no file)."""
    if not path.exists():
        return {}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {}
        for table in tables:
            columns = tuple(r[1] for r in conn.execute(f'PRAGMA table_info("{table}")'))
            rows = conn.execute(f'SELECT {", ".join(columns)} FROM "{table}" ORDER BY rowid').fetchall()
            out[table] = [columns, *rows]
        return out


def without_lockout(table: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    keep = [i for i, c in enumerate(table[0]) if c not in LOCKOUT_COLUMNS]
    return [tuple(row[i] for i in keep) for row in table]


def assert_unchanged_but_logins(before: Dump, after: Dump) -> None:
    """Every table is as it was, except the lock-out counters and new log-in entries at the end of the audit log."""
    assert set(after) == set(before)
    for table in sorted(before):
        if table in LOGIN_TABLES:
            continue
        if table == "users":
            assert without_lockout(after[table]) == without_lockout(before[table]), table
        else:
            assert after[table] == before[table], table
    old, new = before["audit_log"], after["audit_log"]
    assert new[: len(old)] == old, "an existing audit entry changed"
    action = old[0].index("action")
    added = new[len(old) :]
    assert {row[action] for row in added} <= LOGIN_ACTIONS
    seq = old[0].index("seq")
    assert after["audit_head"][1][after["audit_head"][0].index("seq")] == new[-1][seq]


# ------------------------------------------------------------------------------------------ 1. walk-through


def test_full_incident_walk_through(tmp_path, monkeypatch):
    """Init, users, open, grant, plan, show, approve, advance to the end, export, verify and close all exit 0."""
    db, out = tmp_path / "store.db", tmp_path / "paperwork"
    init_store(monkeypatch, db)
    add_people(monkeypatch, db, ["planner_sh", "cmd_pd", "obs_xh"])

    def run(*args: object, user: str) -> Outcome:
        return ok(yiwang(monkeypatch, *args, "--db", url(db), user=user))

    opened = run("incident", "open", SCENARIO, "--jurisdiction", "pudong", "--demo-roster", user="admin")
    assert opened.out.startswith("incident 1 opened (one_site_mmc, pudong)")
    code = json.loads(run("incident", "show", "1", "--json", user="admin").out)["code"]
    assert "cmd_pd holds command of incident 1" in run("grant", "1", "cmd_pd", user="admin").out

    planned = run("incident", "plan", "1", "--time-limit", "2", user="planner_sh")
    assert "plan 1 (#1 of " in planned.out and ": proposed, version 1 of 1" in planned.out
    shown = run("plan", "show", "1", user="cmd_pd")
    assert "to decide: yiwang plan approve 1 --version 1" in shown.out
    assert "with this plan" in shown.out

    approved = run("plan", "approve", "1", "--version", "1", user="cmd_pd")
    assert approved.out.strip() == "plan 1 version 1 approved by cmd_pd and in effect"
    assert "plan 1 (#1) active v1" in run("plan", "list", "1", user="cmd_pd").out

    for _ in range(5):
        step = run("incident", "advance", "1", user="cmd_pd")
        if "the scenario's horizon is reached" in step.out:
            break
    else:
        pytest.fail("incident 1 did not reach its horizon in 5 advances")

    written = run("export", "ics204", "1", "--out", out, user="cmd_pd")
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([f"ics204_{code}_plan1v1.csv", f"ics204_{code}_plan1v1.html", f"ics214_{code}.csv",
                            f"ics214_{code}.html", f"ics204_{code}_plan1v1_warnings.csv"])  # fmt: skip
    assert written.out.count("wrote ") == 5
    assert code in (out / f"ics204_{code}_plan1v1.html").read_text(encoding="utf-8")

    verified = ok(yiwang(monkeypatch, "audit", "verify", "--db", url(db), user="admin"))
    assert verified.out.startswith("audit chain intact: ")
    assert run("incident", "close", "1", "--reason", "drill over", user="cmd_pd").out.strip() == "incident 1 closed"
    listed = json.loads(run("incident", "list", "--all", "--json", user="obs_xh").out)
    assert listed == []  # Xuhui does not see a Pudong incident, closed or not
    (row,) = json.loads(run("incident", "list", "--all", "--json", user="admin").out)
    assert (row["status"], row["phase"]) == ("closed", "archive")


# ------------------------------------------------------------------------------------------ 2. refusals


def _plan_text() -> str:
    return default_plan(load_scenario(SCENARIO)).to_json()


def _write_inputs(folder: Path) -> None:
    """The malformed (and a few well-formed) input files the refusals read."""
    folder.mkdir()
    good = json.loads(_plan_text())
    (folder / "plan.json").write_text(_plan_text())
    (folder / "broken.json").write_text(_plan_text()[:-40])
    bad_field = json.loads(_plan_text())
    bad_field["actions"][1]["count"] = "eight"
    (folder / "bad_field.json").write_text(json.dumps(bad_field))
    (folder / "other_scenario.json").write_text(default_plan(load_scenario("disney_mass_testing")).to_json())
    unknown_site = dict(good, actions=[dict(a, to="site_z") for a in good["actions"]])
    (folder / "unknown_site.json").write_text(json.dumps(unknown_site))
    (folder / "roster.csv").write_text("team,name,phone,role\nlocal,王伟,13800138000,leader\n")
    (folder / "bad_roster.csv").write_text("team,name,phone,role\nLocal Team,王伟,not a phone,leader\n")
    (folder / "no_columns.csv").write_text("who,where\n王伟,site_a\n")


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A store with five users and two Pudong incidents: 1 held by cmd_pd with plan 1 proposed; 2 with its
    grant revoked and plan 2 proposed. Also the folder of input files. Tests work on copies of the store."""
    root = tmp_path_factory.mktemp("populated")
    db, inputs = root / "store.db", root / "inputs"
    _write_inputs(inputs)
    with pytest.MonkeyPatch.context() as mp:
        init_store(mp, db)
        add_people(mp, db, ["planner_sh", "cmd_pd", "cmd_pd2", "obs_xh"])
        for incident in (1, 2):
            ok(yiwang(mp, "incident", "open", SCENARIO, "--jurisdiction", "pudong", "--db", url(db), user="admin"))
            ok(yiwang(mp, "grant", incident, "cmd_pd", "--db", url(db), user="admin"))
            ok(yiwang(mp, "plan", "propose", incident, "--file", inputs / "plan.json", "--db", url(db),
                      user="planner_sh"))  # fmt: skip
        ok(yiwang(mp, "revoke", "2", "--reason", "handed back", "--db", url(db), user="admin"))
    return db, inputs


class Refusal(NamedTuple):
    """A command that must be refused: who runs it, its arguments (`{scenario}` is the test scenario, `{inputs}`
    the folder of input files), and a fragment of the reason. `lines` is how many lines the reason takes (None:
    a usage error's box); `password` replaces the user's own ("" leaves it unset)."""

    user: str | None
    command: str
    reason: str
    password: str | None = None
    new_password: str | None = None
    lines: int | None = 1


NEW = "long enough 123"  # a new user's password that the policy accepts
R = Refusal
REFUSALS = {
    # who is acting
    "unknown user": R("ghost", "incident list", "wrong user name or password", password="whatever 123"),
    "wrong password": R("cmd_pd", "incident list", "wrong user name or password", password="not it at all"),
    "no user": R(None, "incident list", "--user: say who is acting"),
    "no password": R("cmd_pd", "incident list", "set YIWANG_PASSWORD", password=""),
    # grants
    "grant to no such user": R("admin", "grant 1 ghost", "user 'ghost': no such user"),
    "grant to an observer": R("admin", "grant 1 obs_xh", "only an active commander"),
    "grant for no time": R("admin", "grant 1 cmd_pd2 --hours 0", "hours: 0 must be more than 0"),
    "grant by a planner": R("planner_sh", "grant 1 cmd_pd2", "may not grant command"),
    "grant hours not a number": R("admin", "grant 1 cmd_pd2 --hours lots", "Invalid value for '--hours'", lines=None),
    "revoke without a reason": R("admin", "revoke 1 --reason ' '", "a revocation needs a reason"),
    "revoke with no grant": R("admin", "revoke 2 --reason again", "no grant is in force"),
    "revoke, --reason missing": R("admin", "revoke 1", "Missing option '--reason'", lines=None),
    # incidents
    "wrong incident id": R("admin", "incident show 99", "incident 99: not found"),
    "incident outside jurisdiction": R("obs_xh", "incident show 1", "incident 1: not found in jurisdiction 'xuhui'"),
    "plan outside jurisdiction": R("obs_xh", "plan show 1", "plan 1: not found in jurisdiction 'xuhui'"),
    "advance a wrong incident": R("cmd_pd", "incident advance 99", "incident 99: not found"),
    "advance to the past": R("cmd_pd", "incident advance 1 --until 0", "until: 0 s is not after"),
    "open an unknown scenario": R("planner_sh", "incident open atlantis --jurisdiction pudong", "not a built-in"),
    "open in an unknown jurisdiction": R("planner_sh", "incident open {scenario} --jurisdiction atlantis",
                                         "jurisdiction 'atlantis': no such jurisdiction"),
    "open with an empty title": R("planner_sh", "incident open {scenario} --jurisdiction pudong --title ''",
                                  "title: must be 1-200 characters"),
    "open with a roster the user may not attach": R("planner_sh", "incident open {scenario} --jurisdiction pudong "
                                                    "--demo-roster", "may not attach a roster"),
    "open as an observer": R("obs_xh", "incident open {scenario} --jurisdiction xuhui", "may not open incidents"),
    "close as a non-holder": R("cmd_pd2", "incident close 1", "only the commander holding it"),
    "roster CSV with bad rows": R("admin", "incident roster 1 --import {inputs}/bad_roster.csv",
                                  "bad_roster.csv: line 2: team: 'Local Team'", lines=2),
    "roster CSV without columns": R("admin", "incident roster 1 --import {inputs}/no_columns.csv",
                                    "no_columns.csv: line 1: missing column(s) name, team"),
    "roster import by a planner": R("planner_sh", "incident roster 1 --import {inputs}/roster.csv",
                                    "may not change incident 1's roster"),
    # plans
    "approve as a non-holder": R("cmd_pd2", "plan approve 1 --version 1", "cmd_pd2 does not hold command"),
    "approve as a planner": R("planner_sh", "plan approve 1 --version 1", "may not approve plans"),
    "approve a version that does not exist": R("cmd_pd", "plan approve 1 --version 2", "plan 1: no version 2"),
    "approve another digest": R("cmd_pd", "plan approve 1 --version 1 --digest 00000000", "review it again"),
    "approve after the grant is revoked": R("cmd_pd", "plan approve 2 --version 1",
                                            "incident 2: no one holds command now"),
    "reject without a reason": R("cmd_pd", "plan reject 1 --version 1 --reason ' '", "a rejection needs a reason"),
    "propose broken JSON": R("planner_sh", "plan propose 1 --file {inputs}/broken.json", "broken.json: "),
    "propose a bad field": R("planner_sh", "plan propose 1 --file {inputs}/bad_field.json",
                             "bad_field.json: actions[1].count: input should be a valid integer"),
    "propose a plan for another scenario": R("planner_sh", "plan propose 1 --file {inputs}/other_scenario.json",
                                             "plan is for 'disney_mass_testing', the incident runs 'one_site_mmc'"),
    "propose a plan naming an unknown site": R("planner_sh", "plan propose 1 --file {inputs}/unknown_site.json",
                                               "actions[0].to: 'site_z' is not one of", lines=2),
    "propose a missing file": R("planner_sh", "plan propose 1 --file {inputs}/nothing.json", "cannot read"),
    "bad plan reference": R("admin", "plan show 1:x", "plan '1:x': expected PLAN or PLAN:VERSION"),
    "diff across incidents": R("admin", "plan diff 1 2", "belong to different incidents"),
    "export a plan not approved": R("cmd_pd", "export ics204 1 --out {inputs}/out", "made from an approved plan"),
    # users, audit, init
    "add a user with a weak password": R("admin", "users add lin --role planner --jurisdiction pudong",
                                         "password: must be at least 10 characters", new_password="short"),
    "add a user with a bad role": R("admin", "users add lin --role chief --jurisdiction pudong",
                                    "role: 'chief' is not one of", new_password=NEW),
    "add a user with a bad name": R("admin", "users add 'Lin Wei' --role planner --jurisdiction pudong",
                                    "user name 'Lin Wei'", new_password=NEW),
    "add a user twice": R("admin", "users add cmd_pd --role commander --jurisdiction pudong",
                          "user 'cmd_pd' exists already", new_password=NEW),
    "add a user in no such place": R("admin", "users add lin --role planner --jurisdiction atlantis",
                                     "jurisdiction 'atlantis': no such jurisdiction", new_password=NEW),
    "add a user as a planner": R("planner_sh", "users add lin --role planner --jurisdiction pudong",
                                 "may not add users", new_password=NEW),
    "disable oneself": R("admin", "users disable admin", "cannot disable their own account"),
    "unlock oneself": R("admin", "users unlock admin", "another admin must"),
    "unlock as a commander": R("cmd_pd", "users unlock obs_xh", "may not unlock users"),
    "reset one's own password": R("admin", "users reset admin", "not a reset", new_password=NEW),
    "reset with the demo password": R("admin", "users reset obs_xh", "demo stores' published password",
                                      new_password="yiwang-demo-only"),
    "reset as a planner": R("planner_sh", "users reset obs_xh", "may not reset passwords", new_password=NEW),
    "change to the demo password": R("obs_xh", "users password", "demo stores' published password",
                                     new_password="yiwang-demo-only"),
    "change with a wrong password": R("obs_xh", "users password", "wrong user name or password",
                                      password="not it at all", new_password=NEW),
    "change to the same password": R("obs_xh", "users password", "it is the old one",
                                     new_password=PEOPLE["obs_xh"][2]),
    "role of the holder": R("admin", "users role cmd_pd observer", "holds command of incident 1"),
    "role unknown": R("admin", "users role obs_xh chief", "role: 'chief' is not one of"),
    "role as a commander": R("cmd_pd", "users role obs_xh planner", "may not change roles"),
    "enable no such user": R("admin", "users enable ghost", "user 'ghost': not found in jurisdiction 'shanghai'"),
    "audit log as a planner": R("planner_sh", "audit log", "may not read the audit log"),
    "audit verify as a planner": R("planner_sh", "audit verify", "may not verify the audit log"),
    "audit verify as no one": R(None, "audit verify", "--user: say who is acting"),
    "audit head as an observer": R("obs_xh", "audit head", "may not export the audit head"),
    "audit verify against a head that is not one": R("admin", "audit verify --head {inputs}/broken.json",
                                                     "broken.json: not an exported audit head (not JSON"),
    "init an initialised store": R(None, "init", "the store already has users; nothing changed", new_password=NEW),
    "init --demo on a real store": R(None, "init --demo", "the store already has users; nothing changed"),
}  # fmt: skip

@pytest.mark.parametrize("case", [pytest.param(case, id=name) for name, case in REFUSALS.items()])
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(case, populated, tmp_path, monkeypatch):
    """Every CLI command's bad input gives a one-line reason and a non-zero exit, and changes nothing in the store."""
    base, inputs = populated
    db = copy_store(base, tmp_path / "store.db")
    before = dump(db)
    args = [a.format(scenario=SCENARIO, inputs=inputs) for a in shlex.split(case.command)]
    result = yiwang(monkeypatch, *args, "--db", url(db), user=case.user, password=case.password,
                    new_password=case.new_password)  # fmt: skip
    assert result.code == 2, result.err
    assert case.reason in result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    if case.lines is not None:
        assert len(result.err.strip().splitlines()) == case.lines, result.err
    assert result.out == ""
    assert_unchanged_but_logins(before, dump(db))
    assert ok(yiwang(monkeypatch, "audit", "verify", "--db", url(db), user="admin")).out.startswith(
        "audit chain intact")


BAD_STORES = {
    "a folder that does not exist": (("incident", "list"), "sqlite:///{tmp}/nowhere/store.db", "does not exist"),
    "not a URL": (("audit", "verify"), "not a database URL", "is not a database URL"),
    "an unsupported database": (("users", "list"), "mysql://someone@localhost/yiwang", "unsupported database 'mysql'"),
    "a store never initialised": (("incident", "list"), "sqlite:///{tmp}/fresh.db", "no Yiwang store here"),
    "audit of a store never initialised": (("audit", "verify"), "sqlite:///{tmp}/fresh.db", "no Yiwang store here"),
    "upgrade of a store never initialised": (("db", "upgrade"), "sqlite:///{tmp}/fresh.db", "no Yiwang store here"),
    "init with a weak password": (("init",), "sqlite:///{tmp}/fresh.db", "password: must be at least 10 characters"),
    "init with the name in the password": (("init", "--admin", "chen"), "sqlite:///{tmp}/fresh.db",
                                           "password: must not contain the user name"),
    "init with a bad admin name": (("init", "--admin", "Chen Jie"), "sqlite:///{tmp}/fresh.db", "user name 'Chen Jie'"),
    "demo in a folder that does not exist": (("demo", "--out", "{tmp}/out"), "sqlite:///{tmp}/nowhere/demo.db",
                                             "does not exist"),
}


@pytest.mark.parametrize(("args", "db", "reason"), BAD_STORES.values(), ids=BAD_STORES.keys())
def test_a_missing_or_bad_store_is_refused_and_nothing_is_created(args, db, reason, tmp_path, monkeypatch):
    """A `--db` that is not a usable store gives a one-line reason and exit 2, and creates no store or folder."""
    monkeypatch.chdir(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    # The new admin password is too short, or contains the name `chen`: `init` must refuse it before writing.
    new_password = "chen is in it" if "chen" in args else "short"
    result = yiwang(monkeypatch, *args, "--db", db.replace("{tmp}", str(tmp_path)), user="admin",
                    password="any password 2026", new_password=new_password)  # fmt: skip
    assert result.code == 2, result.err
    assert reason in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert result.out == ""
    assert not (tmp_path / "nowhere").exists()
    for left in tmp_path.glob("*.db"):  # connecting may leave an empty SQLite file, never a schema
        assert dump(left) == {}, left.name


# ------------------------------------------------------------------------------------------ 3. lock-out


def test_lockout_holds_across_runs_until_an_admin_unlocks_the_user(populated, tmp_path, monkeypatch):
    """Wrong passwords in separate runs: from one source the runs are told the tries left, then to wait (even with
    the right password); failures from a second source lock the account, said when it happens; `users unlock` by
    the admin clears it, audited."""
    db = copy_store(populated[0], tmp_path / "store.db")  # every `main` call below opens the store afresh

    def as_commander(source: str, password: str | None = None) -> Outcome:
        monkeypatch.setenv("YIWANG_SOURCE", source)
        return yiwang(monkeypatch, "incident", "list", "--db", url(db), user="cmd_pd", password=password)

    said = [as_commander("desk", "not the password") for _ in range(3)]
    assert [(r.code, r.err.strip()) for r in said] == [
        (2, "wrong user name or password (2 more tries from this source before it must wait)"),
        (2, "wrong user name or password (1 more try from this source before it must wait)"),
        (2, "wrong user name or password; this source must now wait 30 s before the next attempt"),
    ]
    waiting = as_commander("desk")
    assert waiting.code == 2 and "too many failed log-ins from this source (desk); wait" in waiting.err
    assert as_commander("laptop", "not the password").code == 2
    locking = as_commander("laptop", "not the password")
    assert locking.code == 2 and "account 'cmd_pd' is now locked until" in locking.err
    locked = as_commander("laptop")
    assert locked.code == 2 and "account 'cmd_pd' is locked until" in locked.err
    monkeypatch.delenv("YIWANG_SOURCE")
    users = json.loads(ok(yiwang(monkeypatch, "users", "list", "--json", "--db", url(db), user="admin")).out)
    assert [u["username"] for u in users if u["locked_until"]] == ["cmd_pd"]

    unlocked = ok(yiwang(monkeypatch, "users", "unlock", "cmd_pd", "--reason", "called in", "--db", url(db),
                         user="admin"))  # fmt: skip
    assert unlocked.out.strip() == "user 'cmd_pd' unlocked"
    assert ok(as_commander("desk")).code == 0
    with closing(sqlite3.connect(db)) as conn:
        actions = [a for (a,) in conn.execute("SELECT action FROM audit_log WHERE subject = 'cmd_pd' ORDER BY seq")]
    assert actions[-9:] == ["login_failed"] * 3 + ["login_locked"] + ["login_failed"] * 2 + [
        "login_locked", "user_update", "login"]


# ------------------------------------------------------------------------------------------ 4. tampering


def test_audit_verify_names_a_tampered_entry(populated, tmp_path, monkeypatch):
    """Editing audit entry 3 behind the store's back makes `audit verify` exit 2 naming entry 3."""
    db = copy_store(populated[0], tmp_path / "store.db")
    assert ok(yiwang(monkeypatch, "audit", "verify", "--db", url(db), user="admin")).out.startswith(
        "audit chain intact")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("""UPDATE audit_log SET details = '{"tampered":true}' WHERE seq = 3""")
    result = yiwang(monkeypatch, "audit", "verify", "--db", url(db), user="admin")
    assert result.code == 2
    line, *rows = result.err.strip().splitlines()
    assert line.startswith("entry 3: edited: its content (")
    # The row entry 3 recorded has lost its record (the edit replaced the details that held its hash).
    assert all("the entry that recorded it was deleted or edited" in r for r in rows)
    assert result.out == ""


def test_an_exported_head_catches_a_rewritten_tail_and_every_check_is_recorded(populated, tmp_path, monkeypatch):
    """`audit head --out FILE` keeps the head outside the store; after the tail is rewritten with every hash
    recomputed (which the unkeyed chain alone cannot tell), `audit verify --head FILE` names the entry the head
    recorded; each check and export is in the log, as the admin who ran it, with its result (issue 21, item 9)."""
    db, head_file = copy_store(populated[0], tmp_path / "store.db"), tmp_path / "kept" / "head.json"
    printed = ok(yiwang(monkeypatch, "audit", "head", "--out", head_file, "--db", url(db), user="admin")).out
    kept = json.loads(head_file.read_text())
    assert printed.strip() == f"{kept['seq']} {kept['hash']}" and kept["exported_by"] == "admin"
    with closing(sqlite3.connect(db)) as conn, conn:  # rewrite entries 5.. as someone with the database would
        rows = conn.execute("SELECT seq, at, actor, action, incident_id, subject, details, prev_hash FROM audit_log "
                            "WHERE seq >= 5 ORDER BY seq").fetchall()  # fmt: skip
        prev = rows[0][7]
        for seq, at, _actor, action, incident_id, subject, details, _prev in rows:
            digest = entry_hash(seq=seq, at=at, actor="mallory", action=action, incident_id=incident_id,
                                subject=subject, details=details, prev_hash=prev)  # fmt: skip
            conn.execute("UPDATE audit_log SET actor = 'mallory', prev_hash = ?, hash = ? WHERE seq = ?",
                         (prev, digest, seq))  # fmt: skip
            prev = digest
        conn.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))
    assert ok(yiwang(monkeypatch, "audit", "verify", "--db", url(db), user="admin")).out.startswith(
        "audit chain intact")  # unkeyed, and without the head kept elsewhere: undetectable, as documented
    caught = yiwang(monkeypatch, "audit", "verify", "--head", head_file, "--db", url(db), user="admin")
    assert caught.code == 2
    assert caught.err.startswith(f"entry {kept['seq']}: not the entry the exported head recorded")
    log = ok(yiwang(monkeypatch, "audit", "log", "--last", "6", "--db", url(db), user="admin")).out
    checks = [line.split() for line in log.splitlines() if " audit_verify " in line]
    assert [(c[2], c[4]) for c in checks] == [("admin", "intact"), ("admin", "1")]  # the subject: "1 problems"
    assert '"exported_head":' in log.splitlines()[-2] and '"findings":1' in log.splitlines()[-2]


# ------------------------------------------------------------------------------------------ 5. demo


def test_demo_runs_to_the_end_and_refuses_a_real_store(populated, tmp_path, monkeypatch):
    """`yiwang demo` runs the whole loop on a new DEMO store, and refuses a real store without touching it."""
    out = tmp_path / "out"
    result = yiwang(monkeypatch, "demo", "--db", url(tmp_path / "demo.db"), "--out", out, "--time-limit", "10")
    assert result.code == 0, result.err
    assert "6. audit: audit chain intact" in result.out
    assert len(list(out.glob("ics204_EX-*.html"))) == 1

    real = copy_store(populated[0], tmp_path / "real.db")
    before = dump(real)
    refused = yiwang(monkeypatch, "demo", "--db", url(real), "--out", tmp_path / "out2", "--time-limit", "2")
    assert refused.code == 2
    assert refused.err.strip() == f"{url(real)} is a real store; the demo only runs on a DEMO store (pick another --db)"
    assert dump(real) == before
    assert not (tmp_path / "out2").exists()


# ------------------------------------------------------------------------------------------ 5. accounts


def test_password_change_reset_and_role_through_the_cli(populated, tmp_path, monkeypatch):
    """`users password` changes one's own (the old one stops working), `users reset` sets someone else's, `users
    role` changes a role; each is audited as a user_update without any password in it."""
    db = copy_store(populated[0], tmp_path / "store.db")
    changed = ok(yiwang(monkeypatch, "users", "password", "--db", url(db), user="obs_xh",
                        new_password="a new view from the west"))  # fmt: skip
    assert changed.out.strip() == "password of 'obs_xh' changed; log in again with the new one"
    assert yiwang(monkeypatch, "incident", "list", "--db", url(db), user="obs_xh").code == 2
    ok(yiwang(monkeypatch, "incident", "list", "--db", url(db), user="obs_xh", password="a new view from the west"))
    reset = ok(yiwang(monkeypatch, "users", "reset", "obs_xh", "--reason", "forgot it", "--db", url(db),
                      user="admin", new_password="set by the centre"))  # fmt: skip
    assert reset.out.strip() == "password of 'obs_xh' reset"
    ok(yiwang(monkeypatch, "incident", "list", "--db", url(db), user="obs_xh", password="set by the centre"))
    role = ok(yiwang(monkeypatch, "users", "role", "obs_xh", "planner", "--db", url(db), user="admin"))
    assert role.out.strip() == "user 'obs_xh' is now planner"
    users = json.loads(ok(yiwang(monkeypatch, "users", "list", "--json", "--db", url(db), user="admin")).out)
    assert {u["username"]: u["role"] for u in users}["obs_xh"] == "planner"
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT actor, details FROM audit_log WHERE action = 'user_update' AND subject = 'obs_xh'"
                            " ORDER BY seq").fetchall()  # fmt: skip
    assert [(actor, json.loads(d).get("password") or json.loads(d).get("role")) for actor, d in rows] == [
        ("obs_xh", "changed"), ("admin", "reset"), ("admin", "planner")]
    assert all("west" not in d and "centre" not in d for _, d in rows)


def test_plan_approve_needs_each_warning_acknowledged(populated, tmp_path, monkeypatch):
    """A proposed plan with six testers where the default has eight is forecast to make the mean wait worse:
    `plan show` numbers the warning and says how to acknowledge it, `plan approve` without `--ack` exits 2 listing
    it (nothing approved), and with `--ack` by key the plan is approved and in effect, the acknowledgement shown."""
    db = copy_store(populated[0], tmp_path / "store.db")
    fewer = json.loads(_plan_text())
    fewer["actions"] = [dict(a, count=6) if a["type"] == "assign_staff" else a for a in fewer["actions"]]
    (tmp_path / "fewer.json").write_text(json.dumps(fewer))

    def run(*args: object, user: str) -> Outcome:
        return yiwang(monkeypatch, *args, "--db", url(db), user=user)

    assert ok(run("plan", "propose", "1", "--file", tmp_path / "fewer.json", user="planner_sh")).out.startswith(
        "plan 3 proposed")
    shown = ok(run("plan", "show", "3", user="cmd_pd")).out
    assert "warning [1] worse:mean_wait_min: Mean wait to be swabbed (min):" in shown
    assert "to decide: yiwang plan approve 3 --version 1 --ack 1" in shown
    refused = run("plan", "approve", "3", "--version", "1", user="cmd_pd")
    assert refused.code == 2 and refused.out == ""
    assert refused.err.splitlines()[0] == ("plan 3 version 1: 1 of its 1 warnings not acknowledged; read each and "
                                           "acknowledge it by number or key:")  # fmt: skip
    assert refused.err.splitlines()[1].startswith("[1] worse:mean_wait_min: Mean wait to be swabbed (min):")
    assert json.loads(ok(run("plan", "show", "3", "--json", user="cmd_pd")).out)["status"] == "proposed"
    approved = ok(run("plan", "approve", "3", "--version", "1", "--ack", "worse:mean_wait_min", user="cmd_pd"))
    assert approved.out.strip() == "plan 3 version 1 approved by cmd_pd and in effect (1 warning acknowledged)"
    after = ok(run("plan", "show", "3", user="cmd_pd")).out
    assert "acknowledged: [1] worse:mean_wait_min" in after


def test_the_timeline_command_lists_the_steps_newest_first_within_the_jurisdiction(populated, tmp_path, monkeypatch):
    """`incident timeline` lists incident 2's steps newest first (the revocation, the phase change, the plan proposed,
    the grant, the opening) with who did each, as text and JSON; Xuhui's observer is told incident 2 is not found."""
    db = copy_store(populated[0], tmp_path / "store.db")

    def run(*args: object, user: str) -> Outcome:
        return yiwang(monkeypatch, *args, "--db", url(db), user=user)

    steps = json.loads(ok(run("incident", "timeline", "2", "--json", user="cmd_pd")).out)
    assert [(s["event"], s["actor"]) for s in steps] == [
        ("revoke", "admin"), ("phase", "planner_sh"), ("plan_propose", "planner_sh"), ("grant", "admin"),
        ("incident_open", "admin")]  # fmt: skip
    assert steps[0]["values"] == {"holder": "cmd_pd"} and steps[0]["detail"] == "handed back"
    lines = ok(run("incident", "timeline", "2", "--last", "2", user="cmd_pd")).out.splitlines()
    assert len(lines) == 2 and lines[0].endswith("admin: command revoked (grant 2): handed back")
    assert "[18:00]" in lines[0]
    refused = run("incident", "timeline", "2", user="obs_xh")
    assert refused.code == 2 and "incident 2: not found in jurisdiction 'xuhui'" in refused.err
