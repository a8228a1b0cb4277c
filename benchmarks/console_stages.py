"""Where the console's Run -> plan time goes, per built-in scenario: each stage of `command.loop.plan_incident`
(the function the console's Run button starts) stamped with the seconds since Run, as its progress messages
arrive: simulating the default plan, optimising, simulating the optimised plan, proposing.

    python benchmarks/console_stages.py disney_mass_testing [--time-limit 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from command.incidents import open_incident
from command.loop import plan_incident
from command.security import SecurityPolicy, authenticate
from command.store import Store
from command.users import DEMO_PASSWORD, init_demo_store
from optimizer.result import SolveParams
from scenarios import load_scenario

FAST = SecurityPolicy(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args()
    store = Store(f"sqlite:///{tempfile.mkdtemp(prefix='yiwang-stages-')}/s.db", policy=FAST)
    init_demo_store(store)
    admin = authenticate(store, "admin", DEMO_PASSWORD)
    incident = open_incident(store, admin, load_scenario(args.scenario), jurisdiction="shanghai")
    planner = authenticate(store, "planner", DEMO_PASSWORD)
    start = time.perf_counter()

    def say(message: str) -> None:
        print(f"{time.perf_counter() - start:7.2f} s  {message[:100]}", flush=True)

    plan_incident(store, planner, incident, params=SolveParams(time_limit_s=args.time_limit), progress=say)
    print(f"{time.perf_counter() - start:7.2f} s  plan shown ({args.scenario}, optimiser limit {args.time_limit:g} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
