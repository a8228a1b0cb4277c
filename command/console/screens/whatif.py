"""What-if runs for planners: change scenario fields in a form, run, and compare runs side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from command.console import jobs, words
from command.console.screens.common import job_progress, kpi_label, time_limit_s
from command.console.session import lang, tr
from command.kinds import whatif_fields
from command.runs import run_loaded, solve_params
from command.security import Actor
from scenarios import ScenarioError, load_scenario
from scenarios.loading import builtin_scenario_names

RUN_STEPS = 3  # baseline, optimise, simulate the plan


def render(actor: Actor) -> None:
    names = [n for n in builtin_scenario_names() if whatif_fields(load_scenario(n))]
    name = st.selectbox(tr("whatif.scenario"), names, key="whatif_scenario")
    base = load_scenario(name)
    with st.form("whatif_form"):
        st.markdown(f"**{tr('whatif.fields')}**")
        label = st.text_input(tr("whatif.label"), value=tr("whatif.default_label", n=len(_runs()) + 1),
                              key="whatif_label")  # fmt: skip
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
            time_limit = time_limit_s()

            def work(report):  # type: ignore[no-untyped-def]
                params = solve_params(time_limit)
                outcome = run_loaded(scenario, seed=int(seed), params=params, progress=report)
                solve = outcome.solve
                return {"label": label, "seed": int(seed), "kind": scenario.kind, "baseline": outcome.baseline.kpis,
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
            st.error(tr("review.failed", error=words.failure(job.error, lang())))
        elif job.result is not None and job.result not in _runs():
            _runs().append(job.result)
    _compare()


def _keys(scenario: Any) -> Callable[[str], str]:
    """Widget keys for a scenario's fields, one set per scenario: a widget keeps its value across reruns by its key,
    so a key shared by two scenarios of a kind would carry one scenario's figures into the other's run."""
    return lambda field: f"wf_{scenario.name}_{field}"


def _fields(scenario: Any) -> list[str]:
    """Inputs for the fields planners change most (the scenario kind's what-if fields), as `--set` overrides
    (validated like the file)."""
    key = _keys(scenario)
    language = lang()
    out: list[str] = []
    cols = st.columns(2)
    for f in whatif_fields(scenario):
        with cols[f.column % 2]:
            if f.type == "bool":
                shown: Any = st.checkbox(f.label(language), value=bool(f.value), key=key(f.key))
            elif f.type == "int":
                shown = st.number_input(f.label(language), value=int(f.value), step=int(f.step), key=key(f.key),
                                        min_value=None if f.minimum is None else int(f.minimum),
                                        max_value=None if f.maximum is None else int(f.maximum))  # fmt: skip
            else:
                shown = st.number_input(f.label(language), value=float(f.value), step=float(f.step), key=key(f.key),
                                        min_value=f.minimum, max_value=f.maximum)  # fmt: skip
            out.append(f.override(shown))
    return out


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
        kind = next(r["kind"] for r in runs if k in r["baseline"])
        row: dict[str, Any] = {tr("review.col.kpi"): kpi_label(k, kind), tr("review.col.field"): k}
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
