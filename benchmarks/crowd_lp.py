"""The crowd flow LP's build and solve, before and after it was built from arrays, in the same run: for each crowd
scenario and each stair option the optimiser solves (two-way and up-only single stairs), the CPU seconds of the
build, GLOP's solve and the read-out, the per-coefficient build (`benchmarks/crowd_lp_before.py`) against the one
from arrays (`optimizer.crowd.lp`), their ratio, and whether both reach the same optimum. CPU seconds of this
process (GLOP runs in one thread), since the wall clock of a shared machine measures the other users too.

    python benchmarks/crowd_lp.py                                   # both crowd scenarios
    python benchmarks/crowd_lp.py bund_new_year_2014 --solvers glop highs-simplex highs-ipm pdlp

`--solvers` also solves the new build's model with each solver named (one thread each), for the choice of solver.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from crowd_lp_before import solve_flows as solve_before  # benchmarks/ is on the path: the script's folder
from ortools.linear_solver import linear_solver_pb2 as pb
from ortools.linear_solver import pywraplp

from optimizer.crowd.flow import flow_problem
from optimizer.crowd.lp import _FlowLP, solve_flows
from optimizer.crowd.options import DEFAULT_OPTIONS
from scenarios.loading import load_scenario, scenario_graph

NAMES = ("bund_new_year_2014", "bund_light_show")
R = pb.MPModelRequest
SOLVERS = {"glop": (R.GLOP_LINEAR_PROGRAMMING, ""),
           "highs-simplex": (R.HIGHS_LINEAR_PROGRAMMING, "solver=simplex,threads=1"),
           "highs-ipm": (R.HIGHS_LINEAR_PROGRAMMING, "solver=ipm,threads=1"),
           "highs-ipm-no-crossover": (R.HIGHS_LINEAR_PROGRAMMING, "solver=ipm,threads=1,run_crossover=off"),
           "pdlp": (R.PDLP_LINEAR_PROGRAMMING, "")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(NAMES))
    parser.add_argument("--solvers", nargs="*", default=[], choices=sorted(SOLVERS))
    parser.add_argument("--no-before", action="store_true", help="skip the per-coefficient build")
    args = parser.parse_args()
    print("| scenario | stairs | rows x columns | before: build + solve + read (CPU s) | after: build + solve + read "
          "(CPU s) | ratio | optimum before / after |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---|")
    for name in args.names:
        scenario = load_scenario(name)
        graph = scenario_graph(scenario)
        for stairs in ("two-way", "up"):
            options = DEFAULT_OPTIONS if stairs == "two-way" else replace(DEFAULT_OPTIONS, single_stairs="up")
            problem = flow_problem(scenario, graph=graph, options=options, seed=scenario.seed)
            if args.no_before:
                old, split = None, {}
            else:
                old, split = solve_before(problem, time_limit_s=600)
            cpu0 = time.process_time()
            model = _FlowLP(problem).build()
            build = time.process_time() - cpu0
            new = solve_flows(problem, time_limit_s=600)
            size = f"{len(model.constraint):,} x {len(model.variable):,}"
            before = sum(split.values())
            ratio = f"{before / new.cpu_s:.2f}" if split else "-"
            was = f"{old.objective:,.3f}" if old is not None and old.objective is not None else "-"
            print(f"| {name} | {stairs} | {size} | "
                  + (f"{split['build']:.2f} + {split['solve']:.2f} + {split['read']:.2f} = {before:.2f}" if split
                     else "-")
                  + f" | {build:.2f} + {new.cpu_s - build:.2f} = {new.cpu_s:.2f} | {ratio} | {was} / "
                  f"{new.objective:,.3f} |", flush=True)  # fmt: skip
            for solver in args.solvers:
                kind, params = SOLVERS[solver]
                request = R(model=model, solver_type=kind, solver_time_limit_seconds=600,
                            solver_specific_parameters=params)  # fmt: skip
                response = pb.MPSolutionResponse()
                cpu0 = time.process_time()
                pywraplp.Solver.SolveWithProto(request, response)
                print(f"|   | {solver} | | | {time.process_time() - cpu0:.2f} (solve) | | "
                      f"{pb.MPSolverResponseStatus.Name(response.status)} {response.objective_value:,.3f} |",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
