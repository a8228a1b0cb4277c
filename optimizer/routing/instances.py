"""Standard instance files in, VRPLIB solution text out.

Two formats are read, both through the `vrplib` package:
- VRPLIB (`NAME : ...` specifications, then `*_SECTION`s): CVRP (CVRPLIB A, E, X sets) and VRPTW written
  the VRPLIB way (`TIME_WINDOW_SECTION`, a scalar `SERVICE_TIME` or a `SERVICE_TIME_SECTION`, `VEHICLES`).
- Solomon (`VEHICLE` / `NUMBER CAPACITY` / `CUSTOMER` table).

Distance conventions (selectable with `convention=`): TSPLIB `EUC_2D` without time windows is rounded to the
nearest integer (`nint`), as CVRPLIB's optima assume; Solomon data (either format, recognised by its time
windows) is truncated to one decimal (`trunc1`), the DIMACS convention its best-known distances use;
`CEIL_2D` rounds up; `EXPLICIT` matrices are used as given.

Solutions number customers as VRPLIB solution files do: by matrix index, depot = 0 omitted. In VRPLIB
files whose depot is node 1 that is the file's node id minus one; in Solomon files it is `CUST NO.`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import vrplib
from vrplib.parse.parse_distances import parse_distances

from optimizer.routing.problem import (
    CONVENTION_DECIMALS,
    DistanceConvention,
    RoutingProblem,
    apply_convention,
    decimals_needed,
    euclidean,
)
from optimizer.routing.result import RoutingResult


class InstanceError(ValueError):
    """An instance file that cannot be read or does not make sense; the message names the file."""


def detect_format(text: str) -> str:
    """'solomon' or 'vrplib' from the first lines of an instance's text; raises ValueError otherwise."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if (
        len(lines) >= 4
        and lines[1].upper().startswith("VEHICLE")
        and any(line.upper().startswith("CUSTOMER") for line in lines[2:5])
    ):
        return "solomon"
    if lines and ":" in lines[0] and lines[0].split(":", 1)[0].strip().isupper():
        return "vrplib"
    raise ValueError(
        "neither VRPLIB ('KEY : value' lines and *_SECTIONs) nor Solomon (VEHICLE/CUSTOMER tables)"
    )


def read_instance(
    path: str | Path,
    *,
    convention: DistanceConvention | str | None = None,
    check: bool = True,
) -> RoutingProblem:
    """Read a VRPLIB (.vrp) or Solomon (.txt) instance into a `RoutingProblem`.

    `convention` overrides the distance convention the file implies (see the module docstring). With
    `check` (the default) a customer no plan could serve (demand above capacity, a time window that cannot be
    reached from the depot, ...) is an error; with `check=False` it is left for `solve` to drop and report.
    Raises `InstanceError` (a ValueError) naming the file and what is wrong.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InstanceError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise InstanceError(f"{path}: not a text file ({exc.reason})") from exc
    try:
        kind = detect_format(text)
    except ValueError as exc:
        raise InstanceError(f"{path}: not a routing instance: {exc}") from exc
    try:
        data = vrplib.read_instance(path, instance_format=kind, compute_edge_weights=False)
    except Exception as exc:  # vrplib raises ValueError, RuntimeError, IndexError, ... on malformed text
        raise InstanceError(f"{path}: malformed {kind.upper()} instance: {exc}") from exc
    try:
        problem = _to_problem(data, kind=kind, convention=convention, source=str(path))
    except InstanceError:
        raise
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InstanceError(f"{path}: {exc}") from exc
    if check:
        bad = problem.unservable()
        if bad:
            lines = [f"customer {problem.label(i)}: {reason}" for i, reason in sorted(bad.items())]
            raise InstanceError(f"{path}: no plan can serve every customer: " + "; ".join(lines))
    return problem


def _spec_int(data: dict[str, Any], key: str, source: str) -> int | None:
    if key not in data:
        return None
    value = np.asarray(data[key]).ravel()
    if value.size != 1 or float(value[0]) != int(value[0]):
        raise InstanceError(f"{source}: {key.upper()} is {data[key]!r}, expected one integer")
    return int(value[0])


def _to_problem(
    data: dict[str, Any], *, kind: str, convention: DistanceConvention | str | None, source: str
) -> RoutingProblem:
    name = str(data.get("name", Path(source).stem)).strip()
    coords = np.asarray(data["node_coord"], dtype=float) if "node_coord" in data else None
    if kind == "vrplib":
        n = _spec_int(data, "dimension", source)
        if n is None:
            raise InstanceError(f"{source}: DIMENSION is missing")
        depots = np.asarray(data.get("depot", [0])).ravel()
        if depots.size != 1:
            raise InstanceError(f"{source}: DEPOT_SECTION lists {depots.size} depots; only one is supported")
        if int(depots[0]) != 0:
            raise InstanceError(
                f"{source}: the depot is node {int(depots[0]) + 1}; it must be node 1, the first"
            )
        names = tuple(str(i + 1) for i in range(n))  # VRPLIB node ids are 1-based and sequential
    else:
        n = len(data["demand"])
        names = tuple(str(i) for i in range(n))  # Solomon CUST NO. starts at 0 with the depot
    if coords is not None and coords.shape != (n, 2):
        raise InstanceError(f"{source}: {coords.shape[0]} coordinates for DIMENSION {n}")

    time_windows = np.asarray(data["time_window"], dtype=float) if "time_window" in data else None
    if time_windows is not None and time_windows.shape != (n, 2):
        raise InstanceError(f"{source}: TIME_WINDOW_SECTION has {len(time_windows)} rows for {n} nodes")
    service = data.get("service_time")
    service_times: np.ndarray | None = None
    if service is not None:
        s = np.asarray(service, dtype=float).ravel()
        if s.size == 1:  # a scalar SERVICE_TIME applies to every customer, not the depot
            service_times = np.full(n, s[0])
            service_times[0] = 0.0
        elif s.size == n:
            service_times = s
        else:
            raise InstanceError(f"{source}: SERVICE_TIME has {s.size} values for {n} nodes")

    edge_type = str(data.get("edge_weight_type", "EUC_2D" if kind == "solomon" else "")).strip().upper()
    if convention is None:
        if edge_type == "EXPLICIT":
            convention = DistanceConvention.EXPLICIT
        elif edge_type == "CEIL_2D":
            convention = DistanceConvention.CEIL
        elif edge_type == "EUC_2D":
            convention = DistanceConvention.TRUNC1 if time_windows is not None else DistanceConvention.NINT
        else:
            raise InstanceError(
                f"{source}: EDGE_WEIGHT_TYPE {edge_type or '(missing)'} is not supported "
                "(EUC_2D, CEIL_2D or EXPLICIT)"
            )
    convention = DistanceConvention(convention)
    if convention is DistanceConvention.EXPLICIT:
        if edge_type == "EXPLICIT":
            fmt = str(data.get("edge_weight_format", "")).strip().upper()
            try:
                raw = parse_distances(data.get("edge_weight", []), edge_type, fmt)
            except Exception as exc:
                raise InstanceError(f"{source}: EDGE_WEIGHT_SECTION ({fmt or 'no format'}): {exc}") from exc
        elif coords is not None:
            raw = euclidean(coords)
        else:
            raise InstanceError(f"{source}: no NODE_COORD_SECTION and no explicit edge weights")
        distances = np.asarray(raw, dtype=float)
        decimals = decimals_needed(distances, time_windows, service_times)
        distances = np.round(distances, decimals)
    else:
        if coords is None:
            raise InstanceError(f"{source}: the {convention.value} convention needs NODE_COORD_SECTION")
        distances = apply_convention(euclidean(coords), convention)
        decimals = max(CONVENTION_DECIMALS[convention], decimals_needed(time_windows, service_times))
    if distances.shape != (n, n):
        raise InstanceError(f"{source}: the distance matrix is {distances.shape}, expected ({n}, {n})")

    if "demand" not in data:
        raise InstanceError(f"{source}: DEMAND_SECTION is missing")
    demands = np.asarray(data["demand"]).ravel()
    if demands.size != n:
        raise InstanceError(f"{source}: DEMAND_SECTION has {demands.size} values for {n} nodes")
    if not np.all(demands == np.round(demands)):
        raise InstanceError(f"{source}: DEMAND_SECTION has non-integer demands")
    capacity = _spec_int(data, "capacity", source)
    if capacity is None:
        raise InstanceError(f"{source}: CAPACITY is missing")
    vehicles = _spec_int(data, "vehicles", source)

    return RoutingProblem(
        distances=distances,
        demands=demands.astype(np.int64),
        capacity=capacity,
        num_vehicles=vehicles,
        time_windows=time_windows,
        service_times=service_times,
        decimals=decimals,
        convention=convention,
        name=name,
        names=names,
        coordinates=coords,
        source=source,
    )


def format_vrplib_solution(result: RoutingResult) -> str:
    """The routes in VRPLIB solution format: 'Route #1: 3 7 2' per route, then 'Cost 776.1'.

    Customers are numbered as in VRPLIB solution files (matrix index, depot omitted); the cost is printed
    with the instance's decimals (none for nint instances, one for Solomon). `vrplib.read_solution` reads it.
    """
    lines = [f"Route #{k}: {' '.join(map(str, route))}" for k, route in enumerate(result.routes, start=1)]
    lines.append(f"Cost {result.cost_text()}")
    return "\n".join(lines) + "\n"
