"""What-if runs for planners: change scenario fields in a form, run, and compare runs side by side."""

from __future__ import annotations

from typing import Any

import streamlit as st

from command.console import jobs
from command.console.screens.common import job_progress
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
        seed = st.number_input(tr("whatif.seed"), value=int(base.seed), step=1, key="whatif_seed")
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
            def work(report):  # type: ignore[no-untyped-def]
                params = SolveParams(time_limit_s=10.0)
                try:
                    outcome = run_loaded(scenario, seed=int(seed), params=params, progress=report)
                except ScenarioError:  # no optimiser for this kind yet: the scenario's own plan only
                    outcome = run_loaded(scenario, seed=int(seed), optimize=False, progress=report)
                return {"label": label, "seed": int(seed), "baseline": outcome.baseline.kpis,
                        "planned": outcome.planned.kpis if outcome.planned else None}  # fmt: skip

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


def _fields(scenario: Any) -> list[str]:
    """Number inputs for the fields planners change most, as `--set` overrides (validated like the file)."""
    return FIELDS[scenario.kind](scenario)


def _typhoon_fields(scenario: Any) -> list[str]:
    """The wind timeline (force at each point), the escort teams, and the objective's weights."""
    out: list[str] = []
    cols = st.columns(2)
    with cols[0]:
        for i, point in enumerate(scenario.hazard.timeline):
            v = st.number_input(f"wind force · {scenario.clock.label(point.at_s)}", value=int(point.wind_force),
                                min_value=0, max_value=17, step=1, key=f"wf_wind_{i}")  # fmt: skip
            out.append(f"hazard.timeline[{i}].wind_force={int(v)}")
    with cols[1]:
        teams = st.number_input("escort teams", value=int(scenario.escorts.count), step=1, key="wf_teams")
        batch = st.number_input("batch size", value=int(scenario.escorts.batch_size), step=5, key="wf_batch")
        out += [f"escorts.count={int(teams)}", f"escorts.batch_size={int(batch)}"]
        for name in ("rider_wait_per_h", "rider_stranded", "vehicle_delay_per_h"):
            v = st.number_input(f"weight · {name}", value=float(getattr(scenario.weights, name)), step=0.1,
                                key=f"wf_w_{name}")  # fmt: skip
            out.append(f"weights.{name}={float(v)}")
    return out


def _mass_testing_fields(scenario: Any) -> list[str]:
    out: list[str] = []
    cols = st.columns(2)
    with cols[0]:
        for i, zone in enumerate(scenario.population.zones):
            v = st.number_input(f"{zone.node} · visitors", value=int(zone.visitors), step=100, key=f"wf_zone_{i}")
            out.append(f"population.zones[{i}].visitors={int(v)}")
    with cols[1]:
        for pool, spec in scenario.resources.testers.items():
            v = st.number_input(f"testers · {pool}", value=int(spec.count), step=10, key=f"wf_pool_{pool}")
            out.append(f"resources.testers.{pool}.count={int(v)}")
        if scenario.resources.buses is not None:
            v = st.number_input("buses", value=int(scenario.resources.buses.count), step=10, key="wf_buses")
            out.append(f"resources.buses.count={int(v)}")
        th = scenario.thresholds
        if th.target_finish_s is not None:
            v = st.number_input("target finish (min after start)", value=int(th.target_finish_s // 60), step=15,
                                key="wf_finish")  # fmt: skip
            out.append(f"thresholds.target_finish_s={int(v) * 60}")
        if th.max_wait_s is not None:
            v = st.number_input("max wait (min)", value=int(th.max_wait_s // 60), step=5, key="wf_wait")
            out.append(f"thresholds.max_wait_s={int(v) * 60}")
    return out


FIELDS = {"mass_testing": _mass_testing_fields, "typhoon": _typhoon_fields}



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
        row: dict[str, Any] = {tr("review.col.kpi"): k}
        for r in runs:
            row[f"{r['label']} · {tr('review.col.baseline')}"] = round(r["baseline"].get(k, float("nan")), 2)
            if r["planned"]:
                row[f"{r['label']} · {tr('review.col.plan')}"] = round(r["planned"].get(k, float("nan")), 2)
        table.append(row)
    st.dataframe(table, hide_index=True, width="stretch")
    if st.button(tr("whatif.clear"), key="whatif_clear"):
        runs.clear()
        st.rerun()
