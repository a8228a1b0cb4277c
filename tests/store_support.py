"""Helpers for the store's tests: a fast password policy, a clock the test moves, a small populated world."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from command.security import Actor, SecurityPolicy, authenticate
from command.store import Store
from command.users import add_user, init_store
from scenarios import Plan, load_scenario
from scenarios.defaults import default_plan

DATA = Path(__file__).parent / "data"
PASSWORD = "correct horse battery"
ADMIN_PASSWORD = "operations centre 2026"

#: Cheap argon2 so that hundreds of log-ins fit in a test; the rules (lock-out after 3) stay real.
FAST = SecurityPolicy(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1, max_failed_logins=3,
                      lockout=timedelta(minutes=10), session_idle=timedelta(minutes=30),
                      session_max=timedelta(hours=8))  # fmt: skip

#: username -> (role, jurisdiction)
PEOPLE = {
    "planner": ("planner", "shanghai"),
    "pd_planner": ("planner", "pudong"),
    "cmd_pudong": ("commander", "pudong"),
    "cmd_pudong2": ("commander", "pudong"),
    "cmd_huangpu": ("commander", "huangpu"),
    "cmd_city": ("commander", "shanghai"),
    "obs_pudong": ("observer", "pudong"),
    "obs_xuhui": ("observer", "xuhui"),
}


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    """A store with an admin and the `PEOPLE`, each logged in once."""

    store: Store
    clock: FakeClock
    actors: dict[str, Actor] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Actor:
        return self.actors[name]


def make_world(url: str, clock: FakeClock | None = None) -> World:
    clock = clock or FakeClock()
    store = Store(url, clock=clock, policy=FAST)
    init_store(store, admin="admin", password=ADMIN_PASSWORD, display_name="张管理")
    admin = authenticate(store, "admin", ADMIN_PASSWORD)
    world = World(store, clock, {"admin": admin})
    for i, (name, (role, jur)) in enumerate(PEOPLE.items()):
        add_user(store, admin, username=name, password=PASSWORD, role=role, jurisdiction=jur,
                 display_name=f"王{name}", phone=f"1380013{i:04d}")  # fmt: skip
        world.actors[name] = authenticate(store, name, PASSWORD)
    return world


def tiny_scenario():  # type: ignore[no-untyped-def]
    """One test site, eight testers: the smallest mass-testing world (plans for it are cheap to simulate)."""
    return load_scenario(DATA / "one_site_mmc.yaml")


def tiny_plan(scenario, *, count: int = 8, note: str = "") -> Plan:  # type: ignore[no-untyped-def]
    """The tiny scenario's default plan, with `count` testers and a note (to make distinct versions)."""
    base = default_plan(scenario)
    actions = [a.model_copy(update={"count": count}) if a.type == "assign_staff" else a for a in base.actions]
    return Plan.build(base.meta.model_copy(update={"produced_by": "test", "note": note}), actions)
