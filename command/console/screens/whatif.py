"""What-if runs for planners: change scenario fields in a form, run, and compare runs side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from command.console import jobs
from command.console.screens.common import job_progress, kpi_label
from command.console.session import tr
from command.runs import run_loaded
from command.security import Actor
from optimizer.result import SolveParams
from scenarios import ScenarioError, load_scenario
from scenarios.loading import builtin_scenario_names

RUN_STEPS = 3  # baseline, optimise, simulate the plan


def render(actor: Actor) -> None:
    names = [n for n in builtin_scenario_names() if load_scenario(n).kind in FIELDS]
    name = st.selectbox(tr("whatif.scenario"), names, key="whatif_scenario")
    base = load_scenario(name)
    with st.form("whatif_form"):
        st.markdown(f"**{tr('whatif.fields')}**")
        label = st.text_input(tr("whatif.label"), value=f"run {len(_runs()) + 1}", key="whatif_label")
        seed = st.number_input(tr("whatif.seed"), value=int(base.seed), step=1, key=_keys(base)("seed"))
        overrides = _fields(base)
        submitted = st.form_submit_button(tr("whatif.run"), type="primary")
    if submitted:
        try:
            scenario = load_scenario(name, overrides=overrides)
        except ScenarioError as exc:
            st.error(tr("whatif.invalid"))
            for problem in exc.problems:
                st.error(str(problem))
        else:
            time_limit = float(st.session_state.get("yiwang_time_limit", 10.0))

            def work(report):  # type: ignore[no-untyped-def]
                params = SolveParams(time_limit_s=time_limit)
                outcome = run_loaded(scenario, seed=int(seed), params=params, progress=report)
                solve = outcome.solve
                return {"label": label, "seed": int(seed), "baseline": outcome.baseline.kpis,
                        "planned": outcome.planned.kpis if outcome.planned else None,
                        "solver": solve.summary().splitlines()[0] if solve is not None else "",
                        "rationale": list(solve.rationale) if solve is not None else [],
                        "diagnosis": solve.diagnosis if solve is not None else None}  # fmt: skip

            jobs.start("whatif", label, work, steps=RUN_STEPS)
    job = jobs.get("whatif")
    if job is not None:
        if job.running:
            job_progress("whatif", "whatif_cancel")
        elif job.error:
            st.error(tr("review.failed", error=job.error))
        elif job.result is not None and job.result not in _runs():
            _runs().append(job.result)
    _compare()


def _keys(scenario: Any) -> Callable[[str], str]:
    """Widget keys for a scenario's fields, one set per scenario: a widget keeps its value across reruns by its key,
    so a key shared by two scenarios of a kind would carry one scenario's figures into the other's run."""
    return lambda field: f"wf_{scenario.name}_{field}"


def _fields(scenario: Any) -> list[str]:
    """Number inputs for the fields planners change most, as `--set` overrides (validated like the file)."""
    return FIELDS[scenario.kind](scenario)


def _typhoon_fields(scenario: Any) -> list[str]:
    """The wind timeline (force at each point), the escort teams, and the objective's weights."""
    key = _keys(scenario)
    out: list[str] = []
    cols = st.columns(2)
    with cols[0]:
        for i, point in enumerate(scenario.hazard.timeline):
            v = st.number_input(f"wind force · {scenario.clock.label(point.at_s)}", value=int(point.wind_force),
                                min_value=0, max_value=17, step=1, key=key(f"wind_{i}"))  # fmt: skip
            out.append(f"hazard.timeline[{i}].wind_force={int(v)}")
    with cols[1]:
        teams = st.number_input("escort teams", value=int(scenario.escorts.count), step=1, key=key("teams"))
        batch = st.number_input("batch size", value=int(scenario.escorts.batch_size), step=5, key=key("batch"))
        out += [f"escorts.count={int(teams)}", f"escorts.batch_size={int(batch)}"]
        for name in ("rider_wait_per_h", "rider_stranded", "vehicle_delay_per_h"):
            v = st.number_input(f"weight · {name}", value=float(getattr(scenario.weights, name)), step=0.1,
                                key=key(f"w_{name}"))  # fmt: skip
            out.append(f"weights.{name}={float(v)}")
    return out


def _mass_testing_fields(scenario: Any) -> list[str]:
    key = _keys(scenario)
    out: list[str] = []
    cols = st.columns(2)
    with cols[0]:
        for i, zone in enumerate(scenario.population.zones):
            v = st.number_input(f"{zone.node} · visitors", value=int(zone.visitors), step=100, key=key(f"zone_{i}"))
            out.append(f"population.zones[{i}].visitors={int(v)}")
    with cols[1]:
        for pool, spec in scenario.resources.testers.items():
            v = st.number_input(f"testers · {pool}", value=int(spec.count), step=10, key=key(f"pool_{pool}"))
            out.append(f"resources.testers.{pool}.count={int(v)}")
        if scenario.resources.buses is not None:
            v = st.number_input("buses", value=int(scenario.resources.buses.count), step=10, key=key("buses"))
            out.append(f"resources.buses.count={int(v)}")
        th = scenario.thresholds
        if th.target_finish_s is not None:
            v = st.number_input("target finish (min after start)", value=int(th.target_finish_s // 60), step=15,
                                key=key("finish"))  # fmt: skip
            out.append(f"thresholds.target_finish_s={int(v) * 60}")
        if th.max_wait_s is not None:
            v = st.number_input("max wait (min)", value=int(th.max_wait_s // 60), step=5, key=key("wait"))
            out.append(f"thresholds.max_wait_s={int(v) * 60}")
    return out


def _crowd_fields(scenario: Any) -> list[str]:
    """The horizon (a short one keeps the optimiser to seconds), the arrival rate of each period, the dwell, the
    staff teams, whether the default plan has counter-flow control (the optimiser may make stairs one-way either
    way), and the warning and critical densities."""
    key = _keys(scenario)
    out: list[str] = []
    clock = scenario.clock
    cols = st.columns(2)
    with cols[0]:
        horizon = st.number_input(tr("whatif.crowd.horizon"), value=int(clock.horizon_s // 60), min_value=10,
                                  step=30, key=key("horizon"))  # fmt: skip
        out.append(f"clock.horizon_s={int(horizon) * 60}")
        if scenario.evenings > 1:
            v = st.number_input(tr("whatif.crowd.evenings"), value=int(scenario.evenings), min_value=1, max_value=31,
                                step=1, key=key("evenings"))  # fmt: skip
            out.append(f"evenings={int(v)}")
        for i, period in enumerate(scenario.demand.arrivals.periods):
            v = st.number_input(tr("whatif.crowd.arrivals", at=clock.label(period.from_s)), min_value=0,
                                value=int(period.rate_per_h), step=5000, key=key(f"rate_{i}"))  # fmt: skip
            out.append(f"demand.arrivals.periods[{i}].rate_per_h={int(v)}")
        if "mean_s" in type(scenario.dwell).model_fields:
            v = st.number_input(tr("whatif.crowd.dwell"), value=float(scenario.dwell.mean_s) / 60, min_value=1.0,
                                step=5.0, key=key("dwell"))  # fmt: skip
            out.append(f"dwell.mean_s={float(v) * 60}")
    with cols[1]:
        for team, spec in scenario.staff.items():
            v = st.number_input(tr("whatif.crowd.staff", team=team), value=int(spec.count), min_value=0, step=50,
                                key=key(f"staff_{team}"))  # fmt: skip
            out.append(f"staff.{team}.count={int(v)}")
        control = st.checkbox(tr("whatif.crowd.counterflow"), value=bool(scenario.counterflow_control),
                              key=key("counterflow"))  # fmt: skip
        out.append(f"counterflow_control={'true' if control else 'false'}")
        th = scenario.thresholds
        for name in ("warning_ppm2", "critical_ppm2"):
            v = st.number_input(tr(f"whatif.crowd.{name}"), value=float(getattr(th, name)), min_value=0.5,
                                max_value=12.0, step=0.5, key=key(name))  # fmt: skip
            out.append(f"thresholds.{name}={float(v)}")
    return out


FIELDS = {"mass_testing": _mass_testing_fields, "typhoon": _typhoon_fields, "crowd": _crowd_fields}


def _runs() -> list[dict[str, Any]]:
    return st.session_state.setdefault("whatif_runs", [])


def _compare() -> None:
    runs = _runs()
    st.subheader(tr("whatif.runs"))
    if not runs:
        st.caption(tr("whatif.none"))
        return
    keys = list(dict.fromkeys(k for r in runs for k in r["baseline"]))
    table = []
    for k in keys:
        row: dict[str, Any] = {tr("review.col.kpi"): kpi_label(k), tr("review.col.field"): k}
        for r in runs:
            row[f"{r['label']} · {tr('review.col.baseline')}"] = round(r["baseline"].get(k, float("nan")), 2)
            if r["planned"]:
                row[f"{r['label']} · {tr('review.col.plan')}"] = round(r["planned"].get(k, float("nan")), 2)
        table.append(row)
    st.dataframe(table, hide_index=True, width="stretch")
    for r in runs:  # what the optimiser said about each run's plan
        if r.get("solver") or r.get("rationale") or r.get("diagnosis"):
            with st.expander(tr("whatif.solver", label=r["label"])):
                if r.get("solver"):
                    st.caption(r["solver"])
                for line in r.get("rationale", []):
                    st.markdown(f"- {line}")
                if r.get("diagnosis"):
                    st.warning(r["diagnosis"])
    if st.button(tr("whatif.clear"), key="whatif_clear"):
        runs.clear()
        st.rerun()
