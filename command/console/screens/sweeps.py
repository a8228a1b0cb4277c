"""Sweeps for planners: replications of a scenario's variants in the background, KPI distributions and the
chance of breaching each threshold, side by side."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from command.console import jobs
from command.console.screens.common import job_outcome_shown, job_progress
from command.console.session import tr
from command.kinds import whatif_fields
from command.security import Actor
from command.sweeps import run_sweep
from scenarios import load_scenario
from scenarios.loading import builtin_scenario_names

KEY = "sweep"


def render(actor: Actor) -> None:
    names = [n for n in builtin_scenario_names() if whatif_fields(load_scenario(n))]
    with st.form("sweep_form"):
        name = st.selectbox(tr("whatif.scenario"), names, key="sweep_scenario")
        replications = st.number_input(tr("sweep.replications"), min_value=2, max_value=1000, value=20, step=10,
                                       key="sweep_n")  # fmt: skip
        vary = st.text_input(tr("sweep.vary"), value="", key="sweep_vary",
                             placeholder="resources.testers.xuhui.count=60,120")  # fmt: skip
        seed = st.number_input(tr("whatif.seed"), min_value=0, value=0, step=1, key="sweep_seed")
        submitted = st.form_submit_button(tr("sweep.run"), type="primary")
    job = jobs.get(KEY)
    if submitted and (job is None or job.done):
        folder = Path(tempfile.gettempdir()) / "yiwang-console-sweeps"
        spec = [v.strip() for v in vary.split(";") if v.strip()]
        out = folder / f"{name}-{abs(hash((tuple(spec), int(seed), int(replications))))}"

        def work(report):  # type: ignore[no-untyped-def]
            return run_sweep(name, replications=int(replications), out=out, vary=spec, seed=int(seed) or None,
                             engine="local", progress=lambda d, n: report(f"{d}/{n}")).summary  # fmt: skip

        job = jobs.start(KEY, name, work, steps=int(replications) * max(1, _variants(spec)) + 1)
    if job is None:
        st.caption(tr("sweep.hint"))
        return
    if job.running:
        job_progress(KEY, "sweep_cancel")
        return
    if job_outcome_shown(job):
        return
    _show(job.result)


def _variants(spec: list[str]) -> int:
    n = 1
    for item in spec:
        n *= max(1, len([v for v in item.partition("=")[2].split(",") if v.strip()]))
    return n



def _show(summary: dict[str, Any]) -> None:
    variants = summary["variants"]
    keys = list(dict.fromkeys(k for v in variants for k in v["kpis"]))
    rows = []
    for k in keys:
        row: dict[str, Any] = {tr("review.col.kpi"): k}
        for v in variants:
            s = v["kpis"].get(k)
            row[v["label"]] = "" if s is None else f"{s['mean']:,.2f} [{s['ci_low']:,.2f}, {s['ci_high']:,.2f}]"
        rows.append(row)
    for name in dict.fromkeys(b for v in variants for b in v["breaches"]):
        row = {tr("review.col.kpi"): f"P({name})"}
        for v in variants:
            b = v["breaches"].get(name)
            row[v["label"]] = ("" if b is None
                               else f"{100 * b['p']:.1f}% [{100 * b['ci_low']:.1f}, {100 * b['ci_high']:.1f}]")
        rows.append(row)
    st.subheader(tr("sweep.results", n=variants[0]["replications"]))
    st.dataframe(rows, hide_index=True, width="stretch")


__all__ = ["render"]
