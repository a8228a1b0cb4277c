"""Races and crashes between real OS processes, on SQLite and PostgreSQL: the writers' lock and the audit chain hold.

- Two processes approving the same plan version at once: one wins, the other is told the plan is already
  approved; a holder approving while an admin transfers command: either order, never a stale grant.
- A process killed (SIGKILL) at the approval's fault points, or at a random moment of a busy loop of plans
  and decisions, leaves no half-written approval, no lock behind, and a chain that verifies.

Every child is started with the "spawn" method (a fresh interpreter, its own `Store` and connections) and
reads a clock that starts at the test's fake time and moves on with the real one, so that every process
agrees on the order of events. After each race or crash, `assert_consistent` checks the whole store.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from store_support import ADMIN_PASSWORD, FAST, PASSWORD, tiny_plan, tiny_scenario

from command import audit
from command.authority import grant_command
from command.errors import Conflict, NotAuthorised
from command.faults import FAULT_ENV
from command.incidents import open_incident
from command.plans import Shown, approve_plan, create_plan, reject_plan, view_plan
from command.security import authenticate
from command.store import ActivityEntry, AuthorityGrant, Decision, PlanRecord, Store

SPAWN = multiprocessing.get_context("spawn")
RACES = 5  # Races per test: each on its own incident and plan.
KILLS = 3  # Random kills of the busy loop per backend.
CHILD_TIMEOUT_S = 60.0  # Safety net only: a child that hangs this long fails the test instead of hanging it.
PG_SETTLE_S = 10.0  # How long PostgreSQL may take to roll back a killed client's transaction.
BUSY_MAX_PLANS = 10_000  # The busy loop's bounds; the parent kills it long before either is reached.
BUSY_DEADLINE_S = 30.0
APPROVE_FAULT_POINTS = ("approve:after_decision", "approve:after_activate", "approve:before_commit")


@dataclass(frozen=True)
class RunningClock:
    """The test's fake time moving on with the real clock: every process reads the same time line."""

    offset: timedelta

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def running_clock(world: Any) -> RunningClock:
    return RunningClock(world.clock.now - datetime.now(UTC))


@dataclass(frozen=True)
class Job:
    """One act in a race: approve a plan as it was shown, or grant command of an incident to `to`."""

    kind: str
    incident_id: int
    plan_id: int = 0
    shown: Shown | None = None
    to: str = ""
    delay_s: float = 0.0  # How long after the start signal to act (to spread the order of the two acts).


@dataclass(frozen=True)
class Outcome:
    """What one worker's act in one round came to: "ok", or the refusal's qualified class name and message."""

    worker: int
    round: int
    result: str
    message: str = ""


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# ------------------------------------------------------------------------------------------ child processes


def _race_worker(url: str, clock: RunningClock, worker: int, username: str, password: str, jobs: list[Job],
                 barrier: Any, results: Any) -> None:  # fmt: skip
    """Log in, then for each job wait for the other worker at the barrier and act at once."""
    store = Store(url, clock=clock, policy=FAST)
    actor = authenticate(store, username, password)
    for n, job in enumerate(jobs):
        barrier.wait(timeout=CHILD_TIMEOUT_S)
        if job.delay_s:
            time.sleep(job.delay_s)
        try:
            if job.kind == "approve":
                assert job.shown is not None
                approve_plan(store, actor, job.plan_id, password=password, shown=job.shown)
            else:
                grant_command(store, actor, job.incident_id, job.to)
        except Exception as exc:  # Reported to the parent, which decides whether it was allowed.
            results.put(Outcome(worker, n, qualified_name(type(exc)), str(exc)))
        else:
            results.put(Outcome(worker, n, "ok"))
    store.dispose()


def _approve_until_fault(url: str, clock: RunningClock, plan_id: int, shown: Shown, point: str) -> None:
    """Approve a plan as the holder, told to die (SIGKILL) at fault point `point`."""
    os.environ[FAULT_ENV] = point
    store = Store(url, clock=clock, policy=FAST)
    holder = authenticate(store, "cmd_pudong", PASSWORD)
    approve_plan(store, holder, plan_id, password=PASSWORD, shown=shown, activate=True)  # as the loop approves


def _busy_worker(url: str, clock: RunningClock, incident_id: int, seed: int, ready: Any) -> None:
    """Create plans and approve or reject each, as fast as it can, until killed (or a bound is reached)."""
    store = Store(url, clock=clock, policy=FAST)
    scenario = tiny_scenario()
    planner = authenticate(store, "planner", PASSWORD)
    holder = authenticate(store, "cmd_pudong", PASSWORD)
    rng = random.Random(seed)
    deadline = time.monotonic() + BUSY_DEADLINE_S
    for n in range(BUSY_MAX_PLANS):
        plan = tiny_plan(scenario, count=rng.randint(6, 8), note=f"busy {seed} {n}")
        plan_id = create_plan(store, planner, incident_id, plan, scenario=scenario)
        shown = view_plan(store, holder, plan_id).shown()
        if rng.random() < 0.5:
            approve_plan(store, holder, plan_id, password=PASSWORD, shown=shown)
        else:
            reject_plan(store, holder, plan_id, password=PASSWORD, shown=shown, reason="busy loop")
        ready.set()
        if time.monotonic() > deadline:
            break


# ------------------------------------------------------------------------------------------ parent helpers


@contextmanager
def started(*processes: Any) -> Iterator[None]:
    """Start the processes; on the way out, kill any still running (they are ours) and reap them."""
    try:
        for process in processes:
            process.start()
        yield
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
            process.join(CHILD_TIMEOUT_S)


def collect(results: Any, processes: tuple[Any, ...], count: int) -> list[Outcome]:
    """`count` outcomes from the workers; fails (instead of hanging) if a worker dies or goes silent."""
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while len(outcomes) < count:
        try:
            outcomes.append(results.get(timeout=0.5))
        except queue.Empty:
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                pytest.fail(f"race workers stopped after {len(outcomes)} of {count} outcomes (exit codes {dead})")
    return outcomes


def race(url: str, clock: RunningClock, workers: list[tuple[str, str, list[Job]]]) -> dict[int, list[Outcome]]:
    """Run the workers (user name, password, jobs) in processes that start each round together; outcomes by round."""
    barrier, results = SPAWN.Barrier(len(workers)), SPAWN.Queue()
    processes = tuple(
        SPAWN.Process(target=_race_worker, args=(url, clock, n, username, password, jobs, barrier, results))
        for n, (username, password, jobs) in enumerate(workers)
    )
    with started(*processes):
        outcomes = collect(results, processes, sum(len(jobs) for _, _, jobs in workers))
        for process in processes:
            process.join(CHILD_TIMEOUT_S)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    by_round: dict[int, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_round[outcome.round].append(outcome)
    return by_round


def wait_for_dead_clients(store: Store) -> None:
    """On PostgreSQL, wait until no other client has a transaction open (a killed one's is rolled back)."""
    if store.backend != "postgresql":
        return  # SQLite: the OS drops a dead process's file locks, and the WAL ignores uncommitted frames.
    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                 "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")  # fmt: skip
    deadline = time.monotonic() + PG_SETTLE_S
    while True:
        with store.engine.connect() as conn:
            open_transactions = conn.scalar(query)
        if not open_transactions:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"PostgreSQL still has {open_transactions} transaction(s) of killed clients open")
        time.sleep(0.05)


def proposed_plan(world: Any, scenario: Any, *, holder: str = "cmd_pudong") -> tuple[int, int, Shown]:
    """A new incident in Pudong commanded by `holder`, with one proposed plan: (incident, plan, what is shown)."""
    store, admin = world.store, world["admin"]
    incident_id = open_incident(store, admin, scenario, jurisdiction="pudong")
    grant_command(store, admin, incident_id, holder)
    plan_id = create_plan(store, world["planner"], incident_id, tiny_plan(scenario), scenario=scenario)
    return incident_id, plan_id, view_plan(store, world[holder], plan_id).shown()


def assert_consistent(store: Store) -> None:
    """The chain verifies, and every plan's status, decisions, audit entries and activity lines agree."""
    report = audit.verify(store)
    assert report.ok, report.lines()
    actions = Counter((e.action, e.subject) for e in audit.entries(store))
    with store.read() as session:
        plans = session.scalars(select(PlanRecord)).all()
        decisions = session.scalars(select(Decision)).all()
        grants = {g.id: g for g in session.scalars(select(AuthorityGrant))}
        lines = Counter(
            (a.incident_id, a.text.split(" version ")[0], "approved" if " approved by " in a.text else "rejected")
            for a in session.scalars(select(ActivityEntry))
            if " approved by " in a.text or " rejected: " in a.text
        )
    decided: dict[int, list[str]] = defaultdict(list)
    for d in decisions:
        decided[d.plan_id].append(d.decision)
    for plan in plans:
        subject, said = f"plan {plan.id}", decided[plan.id]
        # A proposed plan has no decision; an approved one (in effect or once in effect) or a rejected one has
        # exactly that one decision, and it was put into effect exactly when it is or was in effect.
        assert plan.status in {"proposed", "approved", "active", "superseded", "rejected"}, (
            f"{subject}: unexpected status {plan.status}")
        verdict = {"proposed": [], "rejected": ["rejected"]}.get(plan.status, ["approved"])
        assert said == verdict, f"{subject} is {plan.status}: {said}"
        assert actions["plan_activate", subject] == (plan.status in {"active", "superseded"}), subject
        # Each decision has its audit entry and activity line, and nothing else does.
        assert actions["plan_propose", subject] == 1, subject
        assert actions["plan_approve", subject] == said.count("approved"), subject
        assert actions["plan_reject", subject] == said.count("rejected"), subject
        for verdict in ("approved", "rejected"):
            assert lines[plan.incident_id, f"plan {plan.number}", verdict] == said.count(verdict), subject
    for d in decisions:
        grant = grants[d.grant_id]
        # Every decision was taken under a grant held by the decider and in force at the decision's moment.
        assert grant.user_id == d.user_id, f"decision {d.id}: grant {grant.id} is another user's"
        assert grant.valid_from <= d.decided_at < grant.valid_until, f"decision {d.id}: grant {grant.id} not valid"
        assert grant.revoked_at is None or grant.revoked_at >= d.decided_at, (
            f"decision {d.id} at {d.decided_at} used grant {grant.id}, revoked before at {grant.revoked_at}"
        )


def plan_state(store: Store, plan_id: int) -> tuple[str, int, int]:
    """A plan's status, its number of decisions, and its number of approval audit entries."""
    with store.read() as session:
        status = session.scalars(select(PlanRecord.status).where(PlanRecord.id == plan_id)).one()
        decisions = len(session.scalars(select(Decision.id).where(Decision.plan_id == plan_id)).all())
    approvals = sum(e.action == "plan_approve" and e.subject == f"plan {plan_id}" for e in audit.entries(store))
    return status, decisions, approvals


# ------------------------------------------------------------------------------------------ races


def test_two_processes_approving_the_same_plan_version_exactly_one_wins(world, store_url):
    """Two processes approving the same plan version at once: exactly one succeeds, the other is refused
    because the plan is already approved, and each plan has one decision and one approval entry."""
    scenario = tiny_scenario()
    setups = [proposed_plan(world, scenario) for _ in range(RACES)]
    jobs = [Job("approve", incident_id, plan_id, shown) for incident_id, plan_id, shown in setups]

    rounds = race(store_url, running_clock(world), [("cmd_pudong", PASSWORD, jobs), ("cmd_pudong", PASSWORD, jobs)])

    for n, (_, plan_id, _) in enumerate(setups):
        outcomes = sorted(rounds[n], key=lambda o: o.result)
        # Exactly one approval per race; the loser gets a Conflict saying the plan is already approved.
        assert [o.result for o in outcomes] == [qualified_name(Conflict), "ok"], outcomes
        assert f"plan {plan_id} is already approved" in outcomes[0].message
        assert plan_state(world.store, plan_id) == ("approved", 1, 1)
    assert_consistent(world.store)


def test_approval_racing_a_transfer_of_command_never_uses_a_revoked_grant(world, store_url):
    """A holder approving while an admin transfers command: either may go first, but an approval is never
    recorded under a grant revoked before it."""
    scenario = tiny_scenario()
    setups = [proposed_plan(world, scenario) for _ in range(RACES)]
    spread = [0.0, 0.001, 0.002, 0.005, 0.01]  # The admin acts a little later in later rounds: both orders occur.
    approvals = [Job("approve", incident_id, plan_id, shown) for incident_id, plan_id, shown in setups]
    transfers = [Job("grant", incident_id, to="cmd_pudong2", delay_s=spread[n % len(spread)])
                 for n, (incident_id, _, _) in enumerate(setups)]  # fmt: skip

    rounds = race(store_url, running_clock(world),
                  [("cmd_pudong", PASSWORD, approvals), ("admin", ADMIN_PASSWORD, transfers)])  # fmt: skip

    entries = audit.entries(world.store)
    for n, (incident_id, plan_id, _) in enumerate(setups):
        approval, transfer = sorted(rounds[n], key=lambda o: o.worker)
        # The transfer always succeeds; the approval succeeds only if it came first.
        assert transfer.result == "ok", transfer
        assert approval.result in {"ok", qualified_name(NotAuthorised)}, approval
        status, decisions, approved = plan_state(world.store, plan_id)
        seq = {(e.action, e.subject): e.seq for e in entries if e.incident_id == incident_id}
        first_grant = min(s for (action, _), s in seq.items() if action == "grant")
        revoked = next(s for (action, _), s in seq.items() if action == "revoke")
        if approval.result == "ok":
            # Approved first: the chain records the approval before the revocation of the grant it used.
            assert (status, decisions, approved) == ("approved", 1, 1)
            approved_at = seq["plan_approve", f"plan {plan_id}"]
            assert first_grant < approved_at < revoked, (
                f"plan {plan_id}: approval is entry {approved_at}, the revocation of its grant entry {revoked}"
            )
        else:
            # Transferred first: refused as no longer the holder, and nothing of the approval is written.
            assert "cmd_pudong does not hold command" in approval.message
            assert (status, decisions, approved) == ("proposed", 0, 0)
    assert_consistent(world.store)


# ------------------------------------------------------------------------------------------ crashes


@pytest.mark.parametrize("point", APPROVE_FAULT_POINTS)
def test_process_killed_mid_approval_leaves_no_trace_and_no_lock(world, store_url, point):
    """A process killed in the middle of an approval (with its activation: one transaction) leaves the plan
    proposed, no decision, no approval entry and a valid chain, never approved but not in effect, and the holder
    can then approve it into effect (issue 21, item 3)."""
    scenario = tiny_scenario()
    _, plan_id, shown = proposed_plan(world, scenario)
    clock = running_clock(world)
    child = SPAWN.Process(target=_approve_until_fault, args=(store_url, clock, plan_id, shown, point))

    with started(child):
        child.join(CHILD_TIMEOUT_S)
    assert child.exitcode == -signal.SIGKILL, f"the child did not die at {point}: exit code {child.exitcode}"

    wait_for_dead_clients(world.store)
    assert plan_state(world.store, plan_id) == ("proposed", 0, 0)
    assert_consistent(world.store)
    # No lock is left behind: the holder approves the same plan from this process.
    world.clock.now = clock()
    approve_plan(world.store, world["cmd_pudong"], plan_id, password=PASSWORD, shown=shown, activate=True)
    assert plan_state(world.store, plan_id) == ("active", 1, 1)
    assert_consistent(world.store)


def test_kill_at_a_random_moment_of_a_busy_loop_never_corrupts_the_store(world, store_url):
    """A process creating and deciding plans, killed at random moments, leaves a chain that verifies and
    plans whose status agrees with their decisions; the store stays writable."""
    scenario = tiny_scenario()
    store, admin = world.store, world["admin"]
    incident_id = open_incident(store, admin, scenario, jurisdiction="pudong")
    grant_command(store, admin, incident_id, "cmd_pudong")
    clock = running_clock(world)
    rng = random.Random(20261129)

    for _ in range(KILLS):
        ready = SPAWN.Event()
        child = SPAWN.Process(target=_busy_worker, args=(store_url, clock, incident_id, rng.randrange(2**32), ready))
        with started(child):
            assert ready.wait(CHILD_TIMEOUT_S), f"the busy child never decided a plan (exit code {child.exitcode})"
            time.sleep(rng.uniform(0.0, 0.5))
            child.kill()
            child.join(CHILD_TIMEOUT_S)
        assert child.exitcode == -signal.SIGKILL, f"the busy child ended on its own: exit code {child.exitcode}"
        wait_for_dead_clients(store)
        assert_consistent(store)

    # The store is still writable: a new plan is proposed and approved from this process.
    world.clock.now = clock()
    plan_id = create_plan(store, world["planner"], incident_id, tiny_plan(scenario), scenario=scenario)
    shown = view_plan(store, world["cmd_pudong"], plan_id).shown()
    approve_plan(store, world["cmd_pudong"], plan_id, password=PASSWORD, shown=shown)
    assert plan_state(store, plan_id) == ("approved", 1, 1)
    assert_consistent(store)
