"""Log-in, lock-out and sessions, on SQLite and PostgreSQL: the rules live in the store, not in memory."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from store_support import FAST, PASSWORD

from command import audit
from command.errors import AccountLocked, AuthFailed, BadInput, NotAuthorised
from command.security import (
    DEFAULT_POLICY,
    authenticate,
    end_session,
    hash_password,
    mask_name,
    mask_phone,
    resume_session,
    start_session,
)
from command.store import Store, User


def _actions(store: Store) -> list[str]:
    return [e.action for e in audit.entries(store)]


def _lock_out(world, name: str) -> None:  # type: ignore[no-untyped-def]
    """Wrong passwords from two sources until the account locks: the refusal that locks it says so."""
    for i in range(FAST.max_failed_logins - 1):
        with pytest.raises(AuthFailed) as failed:
            authenticate(world.store, name, "wrong password!", source="attacker one")
        assert not isinstance(failed.value, AccountLocked)
        assert failed.value.attempts_left == FAST.source_free_failures - 1 - i
    with pytest.raises(AccountLocked, match=f"account '{name}' is now locked until .* from 2 sources"):
        authenticate(world.store, name, "wrong password!", source="attacker two")


def test_login_succeeds_with_the_right_password_and_is_audited(world):
    """The right password yields the user's identity, role and jurisdiction, and an audited log-in."""
    actor = authenticate(world.store, "cmd_pudong", PASSWORD)
    assert (actor.username, actor.role, actor.jurisdiction) == ("cmd_pudong", "commander", "pudong")
    assert _actions(world.store)[-1] == "login"


def test_wrong_password_and_unknown_user_fail_alike_and_are_audited(world):
    """A wrong password and an unknown user get the same message, and both leave a failed-login entry."""
    with pytest.raises(AuthFailed, match="wrong user name or password") as wrong:
        authenticate(world.store, "cmd_pudong", "not the password")
    with pytest.raises(AuthFailed, match="wrong user name or password") as unknown:
        authenticate(world.store, "nobody_here", "whatever")
    assert str(wrong.value) == str(unknown.value)
    assert _actions(world.store)[-2:] == ["login_failed", "login_failed"]


def test_lockout_after_repeated_failures_holds_across_restarts_and_expires(world, store_url):
    """After N failed log-ins from two sources the account is locked, even for the right password, from any source
    and in a new store object, until the lock-out time has passed."""
    _lock_out(world, "obs_pudong")
    with pytest.raises(AccountLocked, match="locked until"):
        authenticate(world.store, "obs_pudong", PASSWORD, source="a third")
    restarted = Store(store_url, clock=world.clock, policy=FAST)  # another process would see the same rows
    try:
        with pytest.raises(AccountLocked):
            authenticate(restarted, "obs_pudong", PASSWORD)
        world.clock.advance(minutes=9)
        with pytest.raises(AccountLocked):
            authenticate(restarted, "obs_pudong", PASSWORD)
        world.clock.advance(minutes=2)
        assert authenticate(restarted, "obs_pudong", PASSWORD).username == "obs_pudong"
    finally:
        restarted.dispose()
    assert "login_locked" in _actions(world.store)


def test_a_success_resets_the_failure_count(world):
    """Failures that stay below the limit are forgotten after a successful log-in."""
    for _ in range(FAST.max_failed_logins - 1):
        with pytest.raises(AuthFailed):
            authenticate(world.store, "planner", "wrong password!")
    authenticate(world.store, "planner", PASSWORD)
    for _ in range(FAST.max_failed_logins - 1):
        with pytest.raises(AuthFailed):
            authenticate(world.store, "planner", "wrong password!")
    assert authenticate(world.store, "planner", PASSWORD).username == "planner"


def test_passwords_are_stored_as_argon2id_hashes(world):
    """The store holds argon2id hashes, never the password."""
    with world.store.read() as session:
        hashes = session.scalars(select(User.password_hash)).all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(PASSWORD in h for h in hashes)


def test_default_policy_hashes_with_rfc9106_cost():
    """The default argon2 cost is RFC 9106's second profile: 64 MiB, three passes."""
    h = hash_password("a long enough password", DEFAULT_POLICY)
    assert "$m=65536,t=3,p=4$" in h
    assert DEFAULT_POLICY.hasher().verify(h, "a long enough password")


def test_sessions_expire_when_idle_and_at_their_limit(world):
    """A session works while used, ends after 30 idle minutes, and ends at its absolute limit even if used."""
    actor = world["planner"]
    token = start_session(world.store, actor)
    world.clock.advance(minutes=29)
    assert resume_session(world.store, token).username == "planner"
    world.clock.advance(minutes=31)
    with pytest.raises(AuthFailed, match="expired"):
        resume_session(world.store, token)
    with pytest.raises(AuthFailed):  # once expired, it stays ended
        resume_session(world.store, token)
    token = start_session(world.store, actor)
    for _ in range(8 * 3):  # keep it busy every 20 minutes for 8 hours
        world.clock.advance(minutes=20)
        try:
            resume_session(world.store, token)
        except AuthFailed:
            break
    else:
        pytest.fail("the session outlived its absolute limit")
    end_session(world.store, start_session(world.store, actor))
    with pytest.raises(AuthFailed):
        resume_session(world.store, "forged-token")


def test_session_of_a_locked_user_is_refused(world):
    """Locking an account also stops its open sessions."""
    token = start_session(world.store, world["obs_xuhui"])
    _lock_out(world, "obs_xuhui")
    with pytest.raises(AuthFailed):
        resume_session(world.store, token)


def test_weak_passwords_are_refused(world):
    """New passwords must be long enough and must not contain the user name."""
    from command.users import add_user

    for pw in ("short", "xx_newuser_xx_long"):
        with pytest.raises(BadInput, match="password"):
            add_user(world.store, world["admin"], username="newuser", password=pw, role="observer",
                     jurisdiction="pudong")  # fmt: skip


@pytest.mark.parametrize(
    ("name", "masked"), [("张伟", "张*"), ("欧阳娜娜", "欧***"), ("Li Ming", "L******"), ("", ""), ("王", "王*")]
)
def test_mask_name_keeps_only_the_first_character(name, masked):
    """A masked name keeps its first character and hides the rest."""
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"), [("13812345678", "138******78"), ("+86 138-1234-5678", "861********78"), ("110", "***")]
)
def test_mask_phone_keeps_the_first_three_and_last_two_digits(phone, masked):
    """A masked phone number shows three leading and two trailing digits at most."""
    assert mask_phone(phone) == masked


def test_a_password_typed_as_a_user_name_is_not_written_down(world):
    """A failed log-in under a name that is no account's (a password typed into the name field) is audited as an
    unknown user, and the typed text appears nowhere in the audit chain (issue 21, item 11)."""
    typed = "Tr0ub4dor&3-secret"
    with pytest.raises(AuthFailed, match="wrong user name or password"):
        authenticate(world.store, typed, "anything")
    last = audit.entries(world.store)[-1]
    assert (last.action, last.actor, last.subject) == ("login_failed", "(unknown user)", "(unknown user)")
    assert all(typed not in f"{e.actor} {e.subject} {e.details}" for e in audit.entries(world.store))


def test_the_demo_password_is_never_a_real_accounts(world):
    """The demo stores' published password is refused for a real account, whatever else about it is fine."""
    from command.users import DEMO_PASSWORD, add_user

    with pytest.raises(BadInput, match="the demo stores' published password cannot be a real account's"):
        add_user(world.store, world["admin"], username="new_cmd", password=DEMO_PASSWORD, role="commander",
                 jurisdiction="pudong")  # fmt: skip




def test_a_lockout_ends_sessions_for_good(world):
    """A token open when the account locks never works again: not 16 minutes later, when the lock-out is over and
    the user can log in afresh, nor after an admin clears the lock (issue 21, item 8)."""
    from command.users import set_active

    token = start_session(world.store, world["obs_xuhui"])
    other = start_session(world.store, world["obs_xuhui"])
    _lock_out(world, "obs_xuhui")
    world.clock.advance(minutes=16)  # past the 10-minute lock-out, within the 30 idle minutes
    assert authenticate(world.store, "obs_xuhui", PASSWORD).username == "obs_xuhui"
    with pytest.raises(AuthFailed):
        resume_session(world.store, token)
    set_active(world.store, world["admin"], "obs_xuhui", True)
    with pytest.raises(AuthFailed):
        resume_session(world.store, other)
    fresh = start_session(world.store, authenticate(world.store, "obs_xuhui", PASSWORD))
    assert resume_session(world.store, fresh).username == "obs_xuhui"


def test_a_disable_ends_sessions_for_good(world):
    """A token open when the account is disabled is refused then, and still refused after it is enabled again."""
    from command.users import set_active

    token = start_session(world.store, world["obs_pudong"])
    set_active(world.store, world["admin"], "obs_pudong", False)
    with pytest.raises(AuthFailed):
        resume_session(world.store, token)
    set_active(world.store, world["admin"], "obs_pudong", True)
    world.clock.advance(minutes=1)
    with pytest.raises(AuthFailed):
        resume_session(world.store, token)
    entry = audit.entries(world.store)[-2]
    assert (entry.action, entry.subject) == ("user_update", "obs_pudong")
    assert '"sessions_ended":1' in entry.details


def test_one_source_only_waits_and_never_locks_the_account(world):
    """Twenty wrong passwords from one source, each made as soon as it may: the source waits 30 s, then twice as
    long after each further failure (capped at 15 minutes), attempts made while it waits are refused unchecked
    (the right password too), and the account never locks; the owner logs in from elsewhere meanwhile, and from
    the same source once it may (issue 21, item 11)."""
    from command.errors import LoginThrottled

    waits = []
    for _ in range(20):
        with pytest.raises(AuthFailed) as failed:
            authenticate(world.store, "cmd_pudong", "wrong password!", source="script")
        assert not isinstance(failed.value, AccountLocked)
        if failed.value.wait_s is not None:
            waits.append(failed.value.wait_s)
            with pytest.raises(LoginThrottled, match="too many failed log-ins from this source"):
                authenticate(world.store, "cmd_pudong", PASSWORD, source="script")
            assert authenticate(world.store, "cmd_pudong", PASSWORD, source="own desk").username == "cmd_pudong"
            world.clock.advance(seconds=failed.value.wait_s)
    assert waits == [30, 60, 120, 240, 480] + [900] * 13
    assert authenticate(world.store, "cmd_pudong", PASSWORD, source="script").username == "cmd_pudong"
    with world.store.read() as session:
        assert session.scalars(select(User.locked_until).where(User.username == "cmd_pudong")).one() is None


def test_attempts_left_are_told_alike_for_known_and_unknown_names(world):
    """Each wrong password says how many tries the source has before it must wait, the same for a real account
    and a name that is no account's, then how long it must wait."""
    said = {}
    for name in ("obs_pudong", "no_such_user"):
        said[name] = []
        for _ in range(FAST.source_free_failures):
            with pytest.raises(AuthFailed) as failed:
                authenticate(world.store, name, "wrong password!", source=f"desk of {name}")
            said[name].append((str(failed.value), failed.value.attempts_left))
    assert said["obs_pudong"] == said["no_such_user"] == [
        ("wrong user name or password (2 more tries from this source before it must wait)", 2),
        ("wrong user name or password (1 more try from this source before it must wait)", 1),
        ("wrong user name or password; this source must now wait 30 s before the next attempt", 0),
    ]


def test_an_admin_over_the_account_unlocks_it_and_is_audited(world):
    """A locked account is unlocked by an admin whose jurisdiction covers it, at once and audited; a district admin
    never unlocks a city-level or another district's account, and nobody unlocks their own."""
    from command.errors import NotFound
    from command.users import add_user, unlock_user

    add_user(world.store, world["admin"], username="pd_admin", password=PASSWORD, role="admin", jurisdiction="pudong")
    add_user(world.store, world["admin"], username="xh_admin", password=PASSWORD, role="admin", jurisdiction="xuhui")
    pd_admin = authenticate(world.store, "pd_admin", PASSWORD)
    xh_admin = authenticate(world.store, "xh_admin", PASSWORD)
    _lock_out(world, "cmd_pudong")
    _lock_out(world, "planner")
    for admin, name in ((xh_admin, "cmd_pudong"), (pd_admin, "planner")):
        with pytest.raises(NotFound, match=f"user '{name}': not found in jurisdiction"):
            unlock_user(world.store, admin, name)
    with pytest.raises(BadInput, match="another admin must"):
        unlock_user(world.store, pd_admin, "pd_admin")
    with pytest.raises(AccountLocked):
        authenticate(world.store, "cmd_pudong", PASSWORD, source="own desk")
    unlock_user(world.store, pd_admin, "cmd_pudong", reason="rang the duty desk")
    entry = audit.entries(world.store)[-1]
    assert (entry.action, entry.actor, entry.subject) == ("user_update", "pd_admin", "cmd_pudong")
    assert '"unlock":true' in entry.details and '"sources_cleared":2' in entry.details
    assert authenticate(world.store, "cmd_pudong", PASSWORD, source="attacker one").username == "cmd_pudong"
    unlock_user(world.store, world["admin"], "planner")
    assert authenticate(world.store, "planner", PASSWORD).username == "planner"


def test_a_user_changes_their_password_under_the_same_rules(world):
    """The old password is checked as a log-in is (a wrong one counts); the new one meets the rules, differs from
    the old and is not the demo password; after the change the old one fails, the new one works, every open
    session has ended, and the audit entry says so without the password."""
    from command.users import DEMO_PASSWORD, change_password

    token = start_session(world.store, world["planner"])
    with pytest.raises(AuthFailed, match="wrong user name or password"):
        change_password(world.store, "planner", old_password="not it at all", new_password="a fresh passphrase")
    for new, reason in ((PASSWORD, "it is the old one"), ("short", "at least"), (DEMO_PASSWORD, "demo stores"),
                        ("my planner phrase", "must not contain the user name")):  # fmt: skip
        with pytest.raises(BadInput, match=reason):
            change_password(world.store, "planner", old_password=PASSWORD, new_password=new)
    assert resume_session(world.store, token).username == "planner"  # nothing changed by the refusals
    change_password(world.store, "planner", old_password=PASSWORD, new_password="a fresh passphrase")
    with pytest.raises(AuthFailed):
        resume_session(world.store, token)
    with pytest.raises(AuthFailed):
        authenticate(world.store, "planner", PASSWORD, source="own desk")
    assert authenticate(world.store, "planner", "a fresh passphrase").username == "planner"
    entry = next(e for e in reversed(audit.entries(world.store)) if e.action == "user_update")
    assert (entry.actor, entry.subject, entry.details) == ("planner", "planner",
                                                           '{"password":"changed","sessions_ended":1}')  # fmt: skip
    assert all("fresh passphrase" not in e.details for e in audit.entries(world.store))


def test_an_admin_resets_a_password_within_their_jurisdiction(world):
    """A Pudong admin resets a Pudong commander's password (clearing a lock-out, ending sessions, audited); never a
    city-level account's or another district's, nor their own; the same rules apply to the new password."""
    from command.errors import NotFound
    from command.users import DEMO_PASSWORD, add_user, reset_password

    add_user(world.store, world["admin"], username="pd_admin", password=PASSWORD, role="admin", jurisdiction="pudong")
    pd_admin = authenticate(world.store, "pd_admin", PASSWORD)
    token = start_session(world.store, world["cmd_pudong"])
    _lock_out(world, "cmd_pudong")
    for name in ("planner", "obs_xuhui", "admin", "ghost"):
        with pytest.raises(NotFound, match=f"user '{name}': not found in jurisdiction 'pudong'"):
            reset_password(world.store, pd_admin, name, new_password="set by the district")
    with pytest.raises(BadInput, match="own password"):
        reset_password(world.store, pd_admin, "pd_admin", new_password="set by the district")
    with pytest.raises(BadInput, match="demo stores"):
        reset_password(world.store, pd_admin, "cmd_pudong", new_password=DEMO_PASSWORD)
    with pytest.raises(NotAuthorised):
        reset_password(world.store, world["cmd_city"], "cmd_pudong", new_password="set by the district")
    reset_password(world.store, pd_admin, "cmd_pudong", new_password="set by the district", reason="forgot it")
    entry = audit.entries(world.store)[-1]
    assert (entry.action, entry.actor, entry.subject) == ("user_update", "pd_admin", "cmd_pudong")
    assert '"password":"reset"' in entry.details and "set by the district" not in entry.details
    assert authenticate(world.store, "cmd_pudong", "set by the district", source="attacker one").role == "commander"
    with pytest.raises(AuthFailed):
        resume_session(world.store, token)


def test_a_waiting_source_costs_no_password_hash(world, monkeypatch):
    """While a source must wait, its attempts are refused before any argon2 check (so a flood of them costs the
    server little); once the wait is over the password is checked again."""
    import command.security as security
    from command.errors import LoginThrottled

    real, checks = security._check_secret, []

    def counted(*args):  # type: ignore[no-untyped-def]
        checks.append(args[1].username if args[1] is not None else None)
        return real(*args)

    monkeypatch.setattr(security, "_check_secret", counted)
    for _ in range(FAST.source_free_failures):
        with pytest.raises(AuthFailed):
            authenticate(world.store, "obs_pudong", "wrong password!", source="flood")
    assert len(checks) == FAST.source_free_failures
    for _ in range(5):
        with pytest.raises(LoginThrottled):
            authenticate(world.store, "obs_pudong", PASSWORD, source="flood")
    assert len(checks) == FAST.source_free_failures
    world.clock.advance(seconds=30)
    assert authenticate(world.store, "obs_pudong", PASSWORD, source="flood").username == "obs_pudong"
    assert len(checks) == FAST.source_free_failures + 1


def test_the_user_list_shows_a_lockout_only_while_it_lasts(world):
    """`list_users` gives the lock-out's end while the account is locked, and nothing once it is over."""
    from command.users import list_users

    def locked() -> dict[str, object]:
        return {u.username: u.locked_until for u in list_users(world.store, world["admin"]) if u.locked_until}

    _lock_out(world, "obs_xuhui")
    assert list(locked()) == ["obs_xuhui"]
    world.clock.advance(minutes=11)  # the test policy locks for 10 minutes
    assert locked() == {}
