"""Where a compiled crowd step's time goes: each part of `flow_step` and `run_steps`, in µs a step, over a whole run.

The kernels' source (`simulation/crowd_kernel.py`) is copied with a clock read inserted before each part (the
anchors below: lines of the source), compiled apart (no cache) and put in the kernels' place; one full run of the
scenario (its seed, its step) then adds up the time between clock reads, part by part. The clock is the monotonic
one, read through the C library (about 25 ns a read, 15 reads a step): wall time, so run it on a quiet machine
and read the table as shares. Below the table: the run's CPU seconds, the real-time factor, and the time spent
outside the compiled calls (routes, the sampler, the event log, SimPy).

An anchor the kernels' source no longer has stops the script with its name: move the anchor with the code.

    python benchmarks/crowd_step_parts.py bund_light_show
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

KERNEL = ROOT / "simulation" / "crowd_kernel.py"

# (a line of the kernels' source, the probe put before it): `tick()` starts a run of parts, `lap(i, t)` ends part i.
# `_t` times `flow_step`'s parts, `_t2` those of `run_steps` around it.
ANCHORS: list[tuple[str, str]] = [
    ("    # Cells: counter-flow friction", "_t = tick()"),
    ("    # Nodes send each class over their out-edges", "_t = lap(0, _t)"),
    ("    # Receivers share their room in proportion", "_t = lap(1, _t)"),
    ("    # A node receives no more than its room", "_t = lap(2, _t)"),
    ("    # The flows: what each sender may send", "_t = lap(3, _t)"),
    ("    # Counter-flow swaps, where both sides", "_t = lap(4, _t)"),
    ("    # Apply them: what leaves one place", "_t = lap(5, _t)"),
    ("    # Cells, from the last to the first (so that", "_t = lap(6, _t)"),
    ("    # The swaps: each side hands its share", "_t = lap(7, _t)"),
    ("    in_cells = 0.0\n", "_t = lap(8, _t)"),
    ("    walking = 0.0\n    for n in range(nn):", "_t = lap(9, _t)"),
    ("    return entered, freeflow, released, served, departed", "_t = lap(10, _t)"),
    ("        if n_ev + room_needed > ev_i.shape[0]:", "_t2 = tick()"),
    ("        # The flows (what each cell sent is wanted", "_t2 = lap(11, _t2)"),
    ("        tally[T_ENTERED_NETWORK] += entered\n", "_t2 = tick()"),
    ("        # The watch: densities against the thresholds", "_t2 = lap(12, _t2)"),
    ("        own, both, rho = own_next, b2, r2", "_t2 = lap(13, _t2)"),
    ("        ran += 1\n", "_t2 = lap(14, _t2)"),
]
PARTS = [
    "cells: what each sends and can take (the walking flow, friction)",
    "edges, origins and meters: what each asks",
    "receivers' shares; what arrives at each node",
    "nodes: their room",
    "the flows (cells, edges, origins)",
    "counter-flow swaps worked out",
    "nodes updated",
    "cells updated (`apply_cells`)",
    "swaps applied, their cells counted again",
    "people in cells; dwelling and leaving (`absorb`)",
    "people walking",
    "arrivals into the holding areas (`run_steps`)",
    "leavers at destinations (`run_steps`)",
    "the watch (`watch_step`)",
    "crushes, stalls, meters, events, holding areas (`run_steps`)",
]

# The clock, callable from compiled code: `tick()` reads it, `lap(i, t0)` adds the time since `t0` to part i.
TIMER = """
import ctypes as _ctypes
from llvmlite import ir as _ir
from numba import types as _types
from numba.extending import intrinsic as _intrinsic

_libc = _ctypes.CDLL(None)
_clock_gettime = _libc.clock_gettime
_clock_gettime.argtypes = [_ctypes.c_int, _ctypes.POINTER(_ctypes.c_int64)]
_clock_gettime.restype = _ctypes.c_int
PROBE_T = np.zeros(64, dtype=np.int64)  # 0-59: nanoseconds per part; 62-63: the clock's last reading
_PROBE_AT = PROBE_T.ctypes.data


@_intrinsic
def _probe_ptr(typingctx, addr):
    sig = _types.CPointer(_types.int64)(_types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], _ir.IntType(64).as_pointer())

    return sig, codegen


@numba.njit(inline="always")
def tick():
    _clock_gettime(numba.int32(1), _probe_ptr(_PROBE_AT + 8 * 62))
    b = numba.carray(_probe_ptr(_PROBE_AT), 64)
    return b[62] * 1_000_000_000 + b[63]


@numba.njit(inline="always")
def lap(i, t0):
    t = tick()
    b = numba.carray(_probe_ptr(_PROBE_AT), 64)
    b[i] += t - t0
    return t
"""


def probed_source() -> str:
    """The kernels' source with the probes in (and no cache: the probes' clock is not cacheable)."""
    src = KERNEL.read_text(encoding="utf-8")
    for anchor, probe in ANCHORS:
        at = src.find(anchor)
        if at < 0:
            raise SystemExit(f"crowd_step_parts: the anchor {anchor.strip()!r} is not in {KERNEL}: move it")
        line_start = src.rfind("\n", 0, at) + 1
        line = src[line_start : src.index("\n", line_start)]
        indent = " " * (len(line) - len(line.lstrip(" ")))
        src = src[:line_start] + f"{indent}{probe}\n" + src[line_start:]
    src = src.replace("cache=True", "cache=False")
    head, sep, rest = src.partition("\nWEIDMANN, SFPE")
    return head + "\n" + TIMER + sep + rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="bund_light_show")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crowd_parts_") as tmp:
        path = Path(tmp) / "crowd_kernel_probed.py"
        path.write_text(probed_source(), encoding="utf-8")
        spec = importlib.util.spec_from_file_location("simulation.crowd_kernel", path)
        assert spec is not None and spec.loader is not None
        probed = importlib.util.module_from_spec(spec)
        sys.modules["simulation.crowd_kernel"] = probed
        spec.loader.exec_module(probed)
        import simulation

        simulation.crowd_kernel = probed  # type: ignore[attr-defined]
        from scenarios import load_scenario
        from simulation.crowd import CrowdModel

        CrowdModel(load_scenario(args.scenario, overrides=["clock.horizon_s=60"])).run()  # compiles
        inside = [0.0]
        run_steps = probed.run_steps

        def timed(*a):  # type: ignore[no-untyped-def]
            t0 = time.process_time()
            out = run_steps(*a)
            inside[0] += time.process_time() - t0
            return out

        probed.run_steps = timed
        s = load_scenario(args.scenario)
        model = CrowdModel(s, seed=s.seed)
        probed.PROBE_T[:] = 0
        cpu = time.process_time()
        result = model.run()
        cpu = time.process_time() - cpu
    steps = model.step_no
    us = [probed.PROBE_T[i] / steps / 1000 for i in range(len(PARTS))]
    total = sum(us)
    print(f"| part of a step ({args.scenario}, {steps:,} steps of {model.dt:g} s) | µs a step | share |")
    print("|---|---:|---:|")
    for name, x in zip(PARTS, us, strict=True):
        print(f"| {name} | {x:.1f} | {x / total:.0%} |")
    print(f"| **all the parts** | **{total:.1f}** | |")
    sim = result.stats.sim_s
    print(f"\nrun: {cpu:.2f} s CPU, {sim / cpu:,.0f}x real time; in the compiled calls {inside[0]:.2f} s "
          f"({inside[0] / steps * 1e6:.1f} µs a step), outside them {cpu - inside[0]:.2f} s "
          f"({(cpu - inside[0]) / steps * 1e6:.1f} µs a step)")  # fmt: skip
    print(f"(measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC)")


if __name__ == "__main__":
    main()
