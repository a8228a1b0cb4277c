"""Creating a store, its jurisdictions and its users; administering accounts; listing users with personal fields
masked as needed.

`init_store` creates the schema (Alembic), the jurisdiction tree (Shanghai and its 16 districts by default;
the Bund police station under Huangpu) and the first admin, whose password comes from the caller: there is
no default password in a real store. `init_demo_store` makes a store clearly marked as a demo, with one user
per role and a password shared by all of them, for the README's first command and for drills.

Every administration of an account (disable, enable, unlock, password reset, role change) is an admin's over
the accounts of their jurisdiction and below, as adding and listing are (`_managed`): a district admin never acts
on a city-level account. Users change their own password (`change_password`). Each is audited as a
`user_update` saying what changed; no password ever is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from command import audit
from command.authority import jurisdiction_by_code, visible_jurisdictions
from command.errors import AuthFailed, BadInput, Conflict, NotFound
from command.migrate import upgrade
from command.security import (
    PUBLISHED_DEMO_PASSWORD,
    Actor,
    authenticate,
    check_password_strength,
    check_username,
    end_sessions_of,
    hash_password,
    mask_name,
    mask_phone,
    policy_of,
    require_role,
)
from command.store import AuthorityGrant, Jurisdiction, LoginBackoff, Store, User

#: Shanghai's 16 districts (codes are pinyin), and the Bund police station under Huangpu.
SHANGHAI = ("shanghai", "上海市 Shanghai")
DISTRICTS = (
    ("huangpu", "黄浦区 Huangpu"), ("xuhui", "徐汇区 Xuhui"), ("changning", "长宁区 Changning"),
    ("jingan", "静安区 Jing'an"), ("putuo", "普陀区 Putuo"), ("hongkou", "虹口区 Hongkou"),
    ("yangpu", "杨浦区 Yangpu"), ("minhang", "闵行区 Minhang"), ("baoshan", "宝山区 Baoshan"),
    ("jiading", "嘉定区 Jiading"), ("pudong", "浦东新区 Pudong"), ("jinshan", "金山区 Jinshan"),
    ("songjiang", "松江区 Songjiang"), ("qingpu", "青浦区 Qingpu"), ("fengxian", "奉贤区 Fengxian"),
    ("chongming", "崇明区 Chongming"),
)  # fmt: skip
BELOW = (("bund_station", "外滩派出所 Bund police station", "huangpu"),)

DEMO_PASSWORD = PUBLISHED_DEMO_PASSWORD
#: username, role, jurisdiction, display name, phone (all fictitious)
DEMO_USERS = (
    ("admin", "admin", "shanghai", "示范管理员 Demo Admin", "13800000001"),
    ("planner", "planner", "shanghai", "示范规划员 Demo Planner", "13800000002"),
    ("pudong_commander", "commander", "pudong", "浦东示范指挥 Demo Pudong Commander", "13800000003"),
    ("bund_chief", "commander", "huangpu", "外滩示范所长 Demo Bund Chief", "13800000004"),
    ("trainee", "observer", "pudong", "示范学员 Demo Trainee", "13800000005"),
    ("xuhui_observer", "observer", "xuhui", "徐汇示范观察员 Demo Xuhui Observer", "13800000006"),
)


def _seed_jurisdictions(session: Session) -> None:
    city = Jurisdiction(code=SHANGHAI[0], name=SHANGHAI[1])
    session.add(city)
    session.flush()
    ids = {}
    for code, name in DISTRICTS:
        row = Jurisdiction(code=code, name=name, parent_id=city.id)
        session.add(row)
        session.flush()
        ids[code] = row.id
    for code, name, parent in BELOW:
        session.add(Jurisdiction(code=code, name=name, parent_id=ids[parent]))


def init_store(store: Store, *, admin: str, password: str, display_name: str = "", demo: bool = False) -> None:
    """Create the schema, the jurisdictions and the first admin; refuse a store that already has users."""
    check_username(admin)
    if not demo:
        check_password_strength(password, policy_of(store), username=admin)
    upgrade(store)
    with store.write() as session:
        if session.scalar(select(func.count()).select_from(User)):
            raise Conflict(f"{store.safe_url}: the store already has users; nothing changed")
        now = store.now()
        _seed_jurisdictions(session)
        session.flush()
        city = jurisdiction_by_code(session, SHANGHAI[0])
        session.add(User(username=admin, display_name=display_name or admin, phone="", role="admin",
                         jurisdiction_id=city.id, password_hash=hash_password(password, policy_of(store)),
                         failed_logins=0, active=True, demo=demo, created_at=now))  # fmt: skip
        audit.append(session, at=now, actor=admin, action="init", subject=store.safe_url,
                     details={"demo": demo, "jurisdictions": len(DISTRICTS) + 1 + len(BELOW)})  # fmt: skip


def init_demo_store(store: Store) -> None:
    """A store marked as a demo: one user per role, all with the password `DEMO_PASSWORD`."""
    init_store(store, admin="admin", password=DEMO_PASSWORD, display_name=DEMO_USERS[0][3], demo=True)
    with store.write() as session:
        now = store.now()
        hashed = hash_password(DEMO_PASSWORD, policy_of(store))
        for username, role, jur, name, phone in DEMO_USERS[1:]:
            session.add(User(username=username, display_name=name, phone=phone, role=role,
                             jurisdiction_id=jurisdiction_by_code(session, jur).id, password_hash=hashed,
                             failed_logins=0, active=True, demo=True, created_at=now))  # fmt: skip
            audit.append(session, at=now, actor="admin", action="user_add", subject=username,
                         details={"role": role, "jurisdiction": jur, "demo": True})  # fmt: skip


def is_demo(store: Store) -> bool:
    """True for a store made by `init_demo_store` (shown as a banner wherever the store is used)."""
    with store.read() as session:
        return bool(session.scalar(select(func.count()).select_from(User).where(User.demo.is_(True))))


def add_user(
    store: Store,
    admin: Actor,
    *,
    username: str,
    password: str,
    role: str,
    jurisdiction: str,
    display_name: str = "",
    phone: str = "",
) -> int:
    """Add a user (admins only); the new user's id."""
    admin.require("users.manage", "add users")
    check_username(username)
    require_role(role)
    check_password_strength(password, policy_of(store), username=username)
    if len(phone) > 40 or len(display_name) > 200:
        raise BadInput("phone or display name too long (40 and 200 characters at most)")
    hashed = hash_password(password, policy_of(store))
    with store.write() as session:
        now = store.now()
        if session.scalars(select(User).where(User.username == username)).first() is not None:
            raise Conflict(f"user {username!r} exists already")
        jur = jurisdiction_by_code(session, jurisdiction)
        if jur.id not in visible_jurisdictions(session, admin):
            raise BadInput(f"jurisdiction {jurisdiction!r} is outside {admin.username}'s own")
        user = User(username=username, display_name=display_name, phone=phone, role=role, jurisdiction_id=jur.id,
                    password_hash=hashed, failed_logins=0, active=True, demo=False, created_at=now)  # fmt: skip
        session.add(user)
        session.flush()
        audit.append(session, at=now, actor=admin.username, action="user_add", subject=username,
                     details={"role": role, "jurisdiction": jurisdiction})  # fmt: skip
        return user.id


def _managed(session: Session, admin: Actor, username: str) -> User:
    """The account `username` if it lies in the admin's jurisdiction or below, as accounts are added and listed: a
    district admin never acts on a city-level account or another district's. One answer for an account that does
    not exist and one out of reach (`NotFound`): the refusal says nothing of which."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or user.jurisdiction_id not in visible_jurisdictions(session, admin):
        raise NotFound(f"user {username!r}: not found in jurisdiction {admin.jurisdiction!r}")
    return user


def set_active(store: Store, admin: Actor, username: str, active: bool) -> None:
    """Disable an account (its sessions end for good) or enable it again (clearing a lock-out)."""
    admin.require("users.manage", "disable or enable users")
    with store.write() as session:
        user = _managed(session, admin, username)
        if user.id == admin.id and not active:
            raise BadInput("an admin cannot disable their own account")
        now = store.now()
        user.active = active
        details: dict[str, object] = {"active": active}
        if active:
            user.failed_logins, user.locked_until = 0, None
        else:  # a disable ends the account's sessions for good: enabling it again does not bring them back
            details["sessions_ended"] = end_sessions_of(session, user.id, now)
        audit.append(session, at=now, actor=admin.username, action="user_update", subject=username,
                     details=details)  # fmt: skip


def unlock_user(store: Store, admin: Actor, username: str, *, reason: str = "") -> None:
    """Clear an account's lock-out and every source's back-off under its name (another admin over its
    jurisdiction; audited as a `user_update` with `unlock`). Sessions the lock-out ended stay ended."""
    admin.require("users.manage", "unlock users")
    with store.write() as session:
        user = _managed(session, admin, username)
        if user.id == admin.id:
            raise BadInput("an admin cannot unlock their own account; another admin must")
        now = store.now()
        was = user.locked_until if user.locked_until is not None and user.locked_until > now else None
        user.failed_logins, user.locked_until = 0, None
        waits = session.scalars(select(LoginBackoff).where(LoginBackoff.subject == username)).all()
        for row in waits:
            session.delete(row)
        audit.append(session, at=now, actor=admin.username, action="user_update", subject=username,
                     details={"unlock": True, "was_locked_until": was.isoformat() if was else None,
                              "sources_cleared": len(waits), "reason": reason[:400]})  # fmt: skip


def change_password(store: Store, username: str, *, old_password: str, new_password: str,
                    source: str | None = None) -> None:  # fmt: skip
    """A user changes their own password: the old one is checked as a log-in is (a wrong one counts toward the
    back-off and lock-out), the new one must meet the rules (`check_password_strength`) and differ from the old.
    Every open session of the account ends (log in again with the new password). Audited as a `user_update`."""
    policy = policy_of(store)
    if new_password == old_password:
        raise BadInput("new password: it is the old one; choose another")
    check_password_strength(new_password, policy, username=username)
    actor = authenticate(store, username, old_password, purpose="change password", source=source)
    hashed = hash_password(new_password, policy)
    with store.write() as session:
        now = store.now()
        user = session.get(User, actor.id)
        if user is None or not user.active or (user.locked_until is not None and user.locked_until > now):
            raise AuthFailed(f"account {username!r} was disabled or locked meanwhile; nothing changed")
        user.password_hash = hashed
        ended = end_sessions_of(session, user.id, now)
        audit.append(session, at=now, actor=username, action="user_update", subject=username,
                     details={"password": "changed", "sessions_ended": ended})  # fmt: skip


def reset_password(store: Store, admin: Actor, username: str, *, new_password: str, reason: str = "") -> None:
    """An admin over the account's jurisdiction sets a new password for someone else (who forgot theirs), under
    the same rules; the account's lock-out and back-off are cleared and its sessions end. Audited (the password
    never is); an admin changes their own with `change_password`."""
    admin.require("users.manage", "reset passwords")
    policy = policy_of(store)
    check_password_strength(new_password, policy, username=username)
    hashed = hash_password(new_password, policy)
    with store.write() as session:
        user = _managed(session, admin, username)
        if user.id == admin.id:
            raise BadInput("an admin changes their own password with `yiwang users password`, not a reset")
        now = store.now()
        user.password_hash = hashed
        user.failed_logins, user.locked_until = 0, None
        for row in session.scalars(select(LoginBackoff).where(LoginBackoff.subject == username)).all():
            session.delete(row)
        ended = end_sessions_of(session, user.id, now)
        audit.append(session, at=now, actor=admin.username, action="user_update", subject=username,
                     details={"password": "reset", "sessions_ended": ended, "reason": reason[:400]})  # fmt: skip


def set_role(store: Store, admin: Actor, username: str, role: str, *, reason: str = "") -> None:
    """Change an account's role (an admin over its jurisdiction; not their own). Someone holding command of an
    incident keeps their role until the grant is transferred or revoked. Audited, with the role before."""
    admin.require("users.manage", "change roles")
    require_role(role)
    with store.write() as session:
        user = _managed(session, admin, username)
        if user.id == admin.id:
            raise BadInput("an admin cannot change their own role; another admin must")
        now = store.now()
        held = session.scalars(select(AuthorityGrant).where(
            AuthorityGrant.user_id == user.id, AuthorityGrant.revoked_at.is_(None),
            AuthorityGrant.valid_from <= now, AuthorityGrant.valid_until > now)).first()  # fmt: skip
        if held is not None and role != user.role:
            raise Conflict(f"user {username!r} holds command of incident {held.incident_id} (grant {held.id}); "
                           "transfer or revoke it before changing their role")  # fmt: skip
        before, user.role = user.role, role
        audit.append(session, at=now, actor=admin.username, action="user_update", subject=username,
                     details={"role": role, "role_before": before, "reason": reason[:400]})  # fmt: skip


@dataclass(frozen=True)
class UserView:
    """A user as a listing shows them; `locked_until` only while the lock-out lasts."""

    username: str
    role: str
    jurisdiction: str
    display_name: str
    phone: str
    active: bool
    locked_until: datetime | None
    demo: bool


def list_users(store: Store, actor: Actor) -> list[UserView]:
    """The users of the actor's jurisdiction and below; names and phones masked unless the actor is an admin."""
    with store.read() as session:
        visible = visible_jurisdictions(session, actor)
        codes = dict(session.execute(select(Jurisdiction.id, Jurisdiction.code)).all())
        rows = session.scalars(select(User).where(User.jurisdiction_id.in_(visible)).order_by(User.username)).all()
        unmasked = actor.can("personal.read")
        now = store.now()
        return [UserView(u.username, u.role, codes[u.jurisdiction_id],
                         u.display_name if unmasked else mask_name(u.display_name),
                         u.phone if unmasked else mask_phone(u.phone), u.active,
                         u.locked_until if u.locked_until is not None and u.locked_until > now else None, u.demo)
                for u in rows]  # fmt: skip


def visible_jurisdiction_codes(store: Store, actor: Actor) -> list[str]:
    """The codes of the actor's jurisdiction and those below it, in creation order."""
    with store.read() as session:
        visible = visible_jurisdictions(session, actor)
        return list(session.scalars(select(Jurisdiction.code).where(Jurisdiction.id.in_(visible))
                                    .order_by(Jurisdiction.id)))  # fmt: skip


def list_jurisdictions(store: Store) -> list[tuple[str, str, str | None]]:
    """`(code, name, parent code)` for every jurisdiction."""
    with store.read() as session:
        rows = session.scalars(select(Jurisdiction).order_by(Jurisdiction.id)).all()
        codes = {j.id: j.code for j in rows}
        return [(j.code, j.name, codes.get(j.parent_id) if j.parent_id else None) for j in rows]


__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "UserView",
    "add_user",
    "change_password",
    "init_demo_store",
    "init_store",
    "is_demo",
    "list_jurisdictions",
    "list_users",
    "reset_password",
    "set_active",
    "set_role",
    "unlock_user",
    "visible_jurisdiction_codes",
]
