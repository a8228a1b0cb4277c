"""The crowd model: one run of a crowd scenario under a plan, and the kind's two doors (`simulate`, `state_at`).

`CrowdModel` holds what the parts share: the scenario, the plan, the network (`network`), the people (amounts
per place and class), the run's tallies and its SimPy environment. The parts, each with its own state:
`routes` (`routing.Routes`: route shares and the times they follow), `ctl` (`controls.Controls`: what the plan
and the injects have put in force), `watch` (`readout.Watch`: thresholds, stalls and the KPI integrals). The
step (`step`) and the processes (`processes`) are functions of the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import networkx as nx
import numpy as np

from scenarios.crowd import CrowdState, check_plan, place_choice, show_hold
from scenarios.defaults import default_plan
from scenarios.errors import ScenarioError
from scenarios.pedestrian import Bottleneck, walking_model
from scenarios.plan import CloseRoad, Plan, RouteVisitors
from scenarios.schema import CrowdScenario
from simulation.core import CountingEnvironment, Recorder, SimResult, WallClock, streams
from simulation.crowd import readout
from simulation.crowd.controls import Controls
from simulation.crowd.network import HOLDING, MIN_CELL_M, build_network, geometry, holding_graph, layout, pressed
from simulation.crowd.patience import Waiting
from simulation.crowd.processes import start
from simulation.crowd.readout import Watch
from simulation.crowd.routing import Routes
from simulation.crowd.step import compiled_kernels, diagram_params, dwell_kernel

# A stream each: a surge leaves the other arrivals as they were (and `patience`, last, leaves the others' draws).
STREAMS = ("arrivals", "dwell", "surge", "patience")


class CrowdModel:
    """One run of a crowd scenario under a plan (its default plan if none)."""

    def __init__(self, scenario: CrowdScenario, plan: Plan | None = None, *, seed: int | None = None,
                 dt: float | None = None, cell_m: float = MIN_CELL_M, graph: nx.DiGraph | None = None,
                 on_step: Callable[[CrowdModel], None] | None = None, kernel: str | None = None):  # fmt: skip
        from scenarios.loading import scenario_graph

        self.kernels = compiled_kernels(kernel)  # None: the NumPy step
        self.s = scenario
        self.graph = graph if graph is not None else scenario_graph(scenario)
        self.plan = plan if plan is not None else default_plan(scenario, self.graph)
        problems = check_plan(self.plan, scenario, self.graph)
        if problems:
            raise ScenarioError(problems)
        self.seed = scenario.seed if seed is None else seed
        self.rng = streams(self.seed, STREAMS)
        self.dt = float(dt if dt is not None else scenario.walking.step_s)
        self.on_step = on_step
        self.env = CountingEnvironment()
        self.rec = Recorder()
        w = scenario.walking
        self.fd, stair_factor = walking_model(w)
        # Those waiting to come in stand on the graph, in a holding area before each origin (a door a quarter
        # of a free step long, so that it holds nobody itself).
        d = scenario.demand
        areas = {o: d.holding_m2.get(o, d.holding_default_m2) for o in d.origins if o in self.graph}
        areas.update({o: st.area_m2 for o, st in d.stations.items() if o in areas and st.area_m2 is not None})
        self.graph = holding_graph(self.graph, areas, door_m=0.25 * self.fd.free_speed * self.dt)
        self.door = Bottleneck(w.specific_flow_pmps)
        self.jam = self.fd.jam_density
        self.rho_crit = self.fd.critical_density
        self.fd_params = diagram_params(self)
        roads = frozenset(frozenset((a.u, a.v)) for a in self.plan.of_type(CloseRoad))
        self.net = build_network(self.graph, dt=self.dt, free_speed=self.fd.free_speed,
                                 stair_factor=stair_factor, roads=roads, cell_m=cell_m)  # fmt: skip
        # the most a place holds per m²: the walking jam, or where a pushing crowd is pressed tighter
        self.press_n, self.press_c = pressed(self.net, dict(scenario.crush.places), self.jam)
        self.n_steps = math.ceil(scenario.clock.horizon_s / self.dt - 1e-9)
        self._classes()
        self.lay = layout(self.net, self.graph)
        self._count_area()
        self.geo = geometry(self.net, self.lay, door=self.door, dt=self.dt, origin_node=self.origin_node)
        self._people()
        self.hold = show_hold(scenario, self.plan, self.n_steps, self.dt)  # per step: dwellers due stay
        self.kernel = dwell_kernel(scenario, self.rng["dwell"], self.dt, self.n_steps)
        nonzero = np.flatnonzero(self.kernel)
        self.kernel_span = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 0)
        self.due = np.zeros((len(self.targets), self.n_steps + self.kernel.size + 2))  # dwellers due per step
        self.held = np.zeros(len(self.targets))  # dwellers due whom a show holds
        self.step_no = 0
        self.moments = 0  # SimPy events the run saves (steps run together, the watcher's wake-ups): `RunStats`
        self.set_up = False  # `setup` has run (processes started)
        # tallies
        self.entered = 0.0  # arrived at an origin (into its holding area, or turned away: it was full)
        self.refused = 0.0  # arrived to find the holding area full: turned away before coming in (gone)
        self.told_away = 0.0  # turned back by an announcement before they came (gone)
        self.holding_in = np.zeros((len(self.origins), self.n_steps + 1))  # per step: admitted to each area, so far
        self.holding_now = np.zeros((len(self.origins), self.n_steps + 1))  # per step: people in each area
        self.arrived_at = np.zeros(len(self.origins))  # the same per origin (where they came in)
        self.entered_network = 0.0
        self.served = 0.0
        self.departed = 0.0
        self.walk_person_s = 0.0
        self.freeflow_s = 0.0
        self.max_entry_queue = 0.0
        self.turned_away = 0.0
        self.rode_on = 0.0  # their trains skipped their station and every neighbour: gone elsewhere
        self.skipped = 0.0  # arrivals whose trains skipped their station (sent on to a neighbour, or beyond)
        self.station_peak = 0.0  # the most people inside the stations at once
        # who waits in the holding areas, and who gives up (the scenario's `patience`; None: nobody gives up)
        self.waiting = Waiting(self, scenario.patience) if scenario.patience is not None else None
        # the parts
        self.routes = Routes(self)
        self.ctl = Controls(self)
        self.watch = Watch(self)

    def _classes(self) -> None:
        """Destination classes (the demand's and any routing target), then `leave` and `dwell`."""
        s, net = self.s, self.net
        targets = list(s.demand.destinations)
        for act in self.plan.of_type(RouteVisitors):
            if act.to not in targets and act.to not in s.exits and act.to in net.index:
                targets.append(act.to)
        missing = [t for t in [*targets, *s.demand.origins] if t not in net.index]
        if missing:
            raise ScenarioError.single(s.name, "demand", f"node {missing[0]!r} is not on any walkway of the graph")
        self.targets = targets
        self.K = len(targets) + 1
        self.LEAVE = len(targets)
        self.target_cls = np.arange(len(targets))
        self.target_node = np.array([net.index[t] for t in targets], dtype=np.int64)
        # destinations that are exits (a station): people who reach them leave there, as they arrive
        self.leave_at = np.array([i for i, t in enumerate(targets) if t in s.exits], dtype=np.int64)
        self.exit_nodes = [x for x in s.exits if x in net.index]
        self.origins = list(s.demand.origins)
        self.origin_node = np.array([net.index[o] for o in self.origins], dtype=np.int64)
        self.holding_node = np.array([net.index[HOLDING + o] for o in self.origins], dtype=np.int64)
        self.holding_area = net.node_area[self.holding_node]
        # The most each holding area holds: the jam density over its area, and a station no more than its capacity.
        self.hold_cap = self.jam * self.holding_area
        self.station_idx = np.array([i for i, o in enumerate(self.origins) if o in s.demand.stations], dtype=np.int64)
        for i in self.station_idx:
            self.hold_cap[i] = min(self.hold_cap[i], s.demand.stations[self.origins[i]].capacity)
        self.origin_share = np.array([s.demand.origins[o] for o in self.origins], dtype=float)
        self.dest_share = np.zeros(self.K)
        for i, t in enumerate(targets):
            self.dest_share[i] = s.demand.destinations.get(t, 0.0)

    def _count_area(self) -> None:
        """The nodes and cells a record's head-count covers (`count_area`: its nodes and the walkways between two
        of them); None when the scenario gives none (everyone on the graph who has come in)."""
        area = set(self.s.count_area)
        self.count_nodes: np.ndarray | None = None
        self.count_cells: np.ndarray | None = None
        if area:
            net = self.net
            self.count_nodes = np.array([n in area for n in net.nodes], dtype=bool)
            inside = np.array([u in area and v in area for u, v in net.edges], dtype=bool)
            self.count_cells = inside[net.cell_edge] if net.cell_edge.size else np.zeros(0, dtype=bool)

    def _people(self) -> None:
        """The people, as amounts per place and class: all zero at the start."""
        net, K = self.net, self.K
        nc = net.n_cells_total
        self.n_nodes_arr = np.zeros((net.n_nodes, K))
        self.n_cells_arr = np.zeros((nc, K))
        # Off the graph before each origin: no run puts anyone here (arrivals wait in the holding areas, on the
        # graph); the step still takes people from it, so that a test can feed an entrance directly.
        self.queue = np.zeros((len(self.origins), K))
        self.dwell_at = np.zeros(len(self.targets))  # dwellers at each target
        self.dwelling: np.ndarray = np.zeros(net.n_nodes)  # the same per node
        self.split = np.tile(self.dest_share, (len(self.origins), 1))  # newcomers' destinations per origin
        self.base_split = self.split.copy()  # the same when no viewing area is full
        self.post: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # densities after the last step
        self.rho_c = np.zeros(nc)  # per cell, the density after the last step
        self.last_flow = np.zeros(nc)  # per cell, the people it moved in the last step
        self.moved_c = np.zeros(nc)  # the same, as the compiled step leaves it for the watch

    @property
    def compiled(self) -> bool:
        """Whether the step runs compiled (else the NumPy reference step)."""
        return self.kernels is not None

    def node_people(self) -> np.ndarray:
        """People at each node, walkers and dwellers."""
        return self.n_nodes_arr.sum(axis=1) + self.dwelling

    def set_width(self, e: int, width: float) -> None:
        """Change an edge's walkable width (a road closed to traffic) and what follows from it."""
        self.net.width[e] = width
        self.geo = geometry(self.net, self.lay, door=self.door, dt=self.dt, origin_node=self.origin_node)
        self.post = None

    # ---------------------------------------------------------------------------------- run

    def setup(self) -> None:
        """Everything before the first step: walking graph, free-flow potentials, first routes, processes."""
        self.set_up = True
        self.ctl.setup()
        self.routes.free_flow()
        nearness = self.s.demand.nearness_s
        if nearness is not None:  # newcomers head for places near where they come in (`place_choice`)
            k = self.LEAVE
            chosen = place_choice(self.dest_share[:k], self.routes.phi0_nodes[self.holding_node, :k], nearness)
            self.split[:, :k] = chosen
            self.base_split = self.split.copy()
        self.routes.reroute(smoothing=1.0)
        start(self)

    def run_until(self, t_s: float) -> None:
        """Set up (the first time) and run the world up to `t_s` (steps due before it)."""
        if not self.set_up:
            self.setup()
        if t_s > self.env.now:
            if not self.env.events_processed:
                self.moments += 1  # the start of the threshold watcher, a SimPy process once
            self.env.run(until=t_s)

    def run(self, until_s: float | None = None) -> SimResult:
        """Run to the horizon (or to `until_s`, if earlier) and return the result as of then."""
        horizon = self.s.clock.horizon_s
        with WallClock() as clock:
            self.run_until(horizon if until_s is None else min(until_s, horizon))
        return self.result(clock.elapsed)

    def result(self, wall_s: float) -> SimResult:
        """The KPIs, series and events as of now (see `readout`)."""
        return readout.result(self, wall_s)

    def state(self, fired: frozenset[int] | None = None) -> CrowdState:
        """Where the people are now (`scenarios.crowd.CrowdState`); `fired`: the injects fired so far, unless
        given."""
        return readout.crowd_state(self, frozenset(self.ctl.fired) if fired is None else fired)

    def people(self) -> dict[str, float]:
        """Where everybody is: queued outside, walking or dwelling inside, gone; and how many came."""
        return readout.people(self)


def simulate(scenario: CrowdScenario, plan: Plan | None = None, *, seed: int | None = None,
             until_s: float | None = None, dt: float | None = None, cell_m: float = MIN_CELL_M,
             kernel: str | None = None) -> SimResult:  # fmt: skip
    """Run a crowd scenario under a plan (`scenarios.defaults.default_plan(scenario)` if none), to the horizon or,
    with `until_s`, to then: the KPIs, series and events of the run as of `until_s`."""
    return CrowdModel(scenario, plan, seed=seed, dt=dt, cell_m=cell_m, kernel=kernel).run(until_s)


def state_at(scenario: CrowdScenario, plan: Plan | None, *, seed: int | None, at_s: float) -> CrowdState:
    """The state of a run of `plan` at `at_s` (before anything due then), with the injects that fire by then
    (`fired`): those that fired before, and those due at `at_s` whose condition holds on the state then (as the
    run decides)."""
    model = CrowdModel(scenario, plan, seed=seed)
    model.run_until(at_s)
    ctl = model.ctl
    due_now = {i for i, inj in enumerate(scenario.injects) if inj.at_s == at_s and ctl.fires(inj)}
    return model.state(frozenset(ctl.fired | due_now))


__all__ = ["STREAMS", "CrowdModel", "simulate", "state_at"]
