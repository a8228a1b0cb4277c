"""Where the console's Run -> plan time goes, per built-in scenario: each stage of `command.loop.plan_incident`
(the function the console's Run button starts) stamped with the seconds since Run, as its progress messages
arrive, in wall time and in CPU time (this process and the processes it started, such as the default plan's
simulation beside the optimiser under a budget).

    python benchmarks/console_stages.py disney_mass_testing [--time-limit 10]   # before: a time limit per model
    python benchmarks/console_stages.py disney_mass_testing --budget 15          # the whole pipeline's budget

The last line gives the total and, with `--check-digest`, the plan's digest (the same on any machine for the
same budget: the split depends on the scenario alone).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from command.incidents import open_incident
from command.loop import plan_incident
from command.plans import list_plans
from command.security import SecurityPolicy, authenticate
from command.store import Store
from command.users import DEMO_PASSWORD, init_demo_store
from optimizer.result import SolveParams
from scenarios import load_scenario

FAST = SecurityPolicy(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


def cpu_s() -> tuple[float, float]:
    """CPU seconds of this process, and of its finished children (the default plan's simulation beside the
    optimiser): on a shared machine, what a quiet one would take (this process's for the critical path, as long as
    the child's are fewer than the optimiser's)."""
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--budget", type=float, default=None, help="the whole pipeline's budget, seconds")
    args = parser.parse_args()
    store = Store(f"sqlite:///{tempfile.mkdtemp(prefix='yiwang-stages-')}/s.db", policy=FAST)
    init_demo_store(store)
    admin = authenticate(store, "admin", DEMO_PASSWORD)
    incident = open_incident(store, admin, load_scenario(args.scenario), jurisdiction="shanghai")
    planner = authenticate(store, "planner", DEMO_PASSWORD)
    start, (own0, kids0) = time.perf_counter(), cpu_s()

    def stamp() -> str:
        own, kids = cpu_s()
        return f"{time.perf_counter() - start:7.2f} s wall {own - own0:6.2f} s cpu (+{kids - kids0:5.2f} s beside)"

    def say(message: str) -> None:
        print(f"{stamp()}  {message[:150]}", flush=True)

    pid = plan_incident(store, planner, incident, params=SolveParams(time_limit_s=args.time_limit), progress=say,
                        budget_s=args.budget)  # fmt: skip
    plan = next(p for p in list_plans(store, planner, incident) if p.plan_id == pid)
    how = f"budget {args.budget:g} s" if args.budget is not None else f"optimiser limit {args.time_limit:g} s"
    capped = any("safety cap" in line for line in plan.solver.get("rationale") or ())
    print(f"{stamp()}  plan shown ({args.scenario}, {how}; load average {os.getloadavg()[0]:.1f}; plan digest "
          f"{plan.digest[:12]}{'; a solve was stopped by its wall-clock safety cap' if capped else ''})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
