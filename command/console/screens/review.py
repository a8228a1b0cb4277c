"""Plan review, the centre of the console: what the plan does, what it will cause, and the decision.

Approve and Reject are shown only to the incident's current commander, and are refused on the server side for
anyone else whatever the page shows: the action runs as the identity the session token resolves to now, and
`approve_plan` checks the grant, the version and the digest of what this page showed.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import streamlit as st

from command import ics
from command.console import jobs, views, words
from command.console import work as console_work
from command.console.screens.common import (
    choose_incident,
    job_outcome_shown,
    job_progress,
    kpi_label,
    live_header,
    plan_budget_s,
    time_limit_s,
)
from command.console.session import actor_for_action, client_source, current_token, lang, store, tr
from command.errors import AuthFailed, CommandError
from command.incidents import roster, scenario_document
from command.kinds import kind_of
from command.loop import approve_and_apply
from command.plans import PlanView, Shown, diff, list_plans, reject_plan
from command.security import Actor
from command.store import default_url
from command.wording import warning_text
from scenarios import ScenarioError
from scenarios.plan import HoldArea

PLAN_STEPS = 4  # baseline, optimise, simulate the plan, propose


def render(actor: Actor) -> None:
    chosen = choose_incident(actor, "review_choose")
    if chosen is None:
        return
    document = scenario_document(store(), actor, chosen.id)
    scenario = views.scenario_from_json(document)
    incident = live_header(actor, chosen.id, scenario.clock)
    if actor.can("plan.propose") and incident.status == "open":
        _run_controls(actor, incident.id)
    plans = list_plans(store(), actor, incident.id)
    if not plans:
        st.info(tr("review.none"))
        return
    by_id = {p.plan_id: p for p in plans}
    default = max(by_id, key=lambda i: (by_id[i].status == "proposed", i))
    pid = st.selectbox(
        tr("review.choose"),
        list(by_id),
        index=list(by_id).index(default),
        key="review_plan",
        format_func={i: tr("review.option", number=p.number, version=p.current_version,
                           status=words.code("plan_status", p.status, lang())) for i, p in by_id.items()}.__getitem__,
    )
    view = by_id[pid]
    _header(view)
    if not (view.status == "proposed" and _is_decider(actor, view, incident.holder)):
        # (whoever decides reads each warning where they acknowledge it, in the decision bar below, which stays in
        # view at the top however many warnings the plan has)
        _warnings(view, scenario)
    confirmed = st.session_state.pop(CONFIRMED, None)
    if confirmed:  # where the decision was made (and as a toast, in view wherever the page is scrolled)
        st.success(confirmed)
        st.toast(confirmed, icon="✅")
    if view.status == "proposed":  # the decision bar first: what to decide, the warnings, approve or reject
        _decide(actor, view, incident.holder, scenario)
    _forecast(view, by_id, scenario.kind)
    _forecast_chart(document, view, incident.seed)
    _what_binds(view)
    _trade_off(view)
    _risk(scenario, view, incident.seed)
    if "controls" in kind_of(scenario).spec.review_panels:
        _crowd_controls(view, scenario)
    _assignments(actor, view, scenario)
    _diff(actor, view, by_id)
    _decisions(view)
    _download(actor, view)


def _run_controls(actor: Actor, incident_id: int) -> None:
    key = f"plan:{incident_id}"
    job = jobs.get(key)
    if (job is None or job.done) and st.button(tr("review.run"), key="review_run", type="secondary"):
        token = current_token()
        time_limit, budget = time_limit_s(), plan_budget_s()

        # The whole Run -> plan in its own process, on the budget (command.budget): the server stays quick.
        work = functools.partial(console_work.plan, default_url(), token, incident_id, time_limit, budget,
                                 dict(os.environ))  # fmt: skip
        job = jobs.start(key, "plan", work, steps=PLAN_STEPS, process=True)
        st.session_state["review_decided"] = False
    if job is None:
        return
    if job.running:
        job_progress(key, f"cancel_{key}")
    elif job.cancelled:
        st.warning(tr("review.cancelled"))
    elif job.error:
        st.error(tr("review.failed", error=words.failure(job.error, lang())))
    elif job.result is not None:
        jumped: object = st.session_state.get("review_jumped")  # as `object`: so `is` does not make `job` optional
        if jumped is not job:  # open the new plan once; then the user chooses
            st.session_state["review_jumped"] = job
            st.session_state["review_plan"] = job.result
        if st.session_state.get("review_plan") == job.result and not st.session_state.get("review_decided"):
            st.success(tr("review.done", plan=job.result))


def _header(view: PlanView) -> None:
    language = lang()
    st.subheader(tr("review.header", number=view.number, version=view.version, versions=view.current_version,
                    status=words.code("plan_status", view.status, language), digest=view.digest[:12]))  # fmt: skip
    s = view.solver
    if s:
        gap = s.get("gap")
        st.caption(tr("review.solver", status=tr(f"solver.{str(s.get('status')).lower()}"),
                      objective=_num(s.get("objective")), bound=_num(s.get("bound")),
                      gap=tr("common.na") if gap is None else f"{100 * gap:.2f}%"))  # fmt: skip


def _num(x: object) -> str:
    return tr("common.na") if x is None else f"{x:,.4g}" if isinstance(x, int | float) else str(x)


def _forecast(view: PlanView, by_id: dict[int, PlanView], kind: str) -> None:
    st.markdown(f"**{tr('review.forecast')}**")
    f = view.forecast
    base, planned = f.get("baseline") or {}, f.get("planned") or {}
    if not base and not planned:
        st.caption(tr("review.no_forecast"))
        return
    previous = f.get("previous")
    if previous is None:  # the plan in effect (or last approved) when this one is not already it
        earlier = [p for p in by_id.values() if p.plan_id != view.plan_id and p.status in {"active", "approved"}]
        previous = earlier[-1].forecast.get("planned") if earlier else None
    rows = []
    for k, b in base.items():
        p = planned.get(k)
        row = {tr("review.col.kpi"): kpi_label(k, kind), tr("review.col.field"): k,
               tr("review.col.baseline"): round(b, 2), tr("review.col.plan"): None if p is None else round(p, 2),
               tr("review.col.change"): None if p is None else round(p - b, 2)}  # fmt: skip
        if previous:
            row[tr("review.col.previous")] = None if k not in previous else round(previous[k], 2)
        rows.append(row)
    st.dataframe(rows, hide_index=True, width="stretch")


def warning_lines(warnings: list[dict[str, Any]], kind: str, places: dict[str, str] | None = None) -> list[str]:
    """Each consequence a plan carries (`command.consequences`: a headline KPI made worse than the default plan,
    a threshold crossed, a weak bound), in the user's language (`command.wording.warning_text`, as the paperwork
    prints it); the places a threshold was crossed at by their names in `places` (node id -> name)."""
    return [warning_text(w, kind, lang(), places) for w in warnings]


def _warnings(view: PlanView, scenario: Any) -> list[str]:
    """The plan's warnings, shown before anything else of it (and before the decision)."""
    lines = warning_lines(view.forecast.get("warnings") or [], scenario.kind, views.place_names(scenario, lang()))
    if lines:
        st.markdown(f"**{tr('review.warnings', n=len(lines))}**")
        for line in lines:
            st.warning(line, icon="⚠️")
    return lines


def _forecast_chart(document: str, view: PlanView, seed: int) -> None:
    """The plan's simulated course against the default plan's, one series at a time (both runs cached)."""
    try:
        base = views.run(document, None, seed)
        this = views.run(document, view.plan.to_json(indent=None), seed)
    except (ValueError, ScenarioError):  # a scenario kind whose model has not landed yet
        return
    peaks = views.peak_place(base), views.peak_place(this)
    if peaks[0] and peaks[1]:  # a crowd run: where and when each plan's density peaks
        st.caption(tr("review.peak", base=peaks[0], plan=peaks[1]))
    names = sorted(n for n in base.series if ":" not in n)
    if not names:
        return
    kind = views.scenario_from_json(document).kind
    name = st.selectbox(tr("incident.series"), names, key=f"review_series_{view.plan_id}",
                        index=views.default_series(names, base.chart_series),
                        format_func={n: kpi_label(n, kind) for n in names}.__getitem__)  # fmt: skip
    labels = (tr("review.col.baseline"), tr("review.col.plan"))
    frame = views.kpi_frame(base, this, name, labels)
    st.altair_chart(views.series_chart(frame, labels, x=tr("incident.minutes_axis"), y=kpi_label(name, kind)),
                    width="stretch")  # fmt: skip


RISK_REPLICATIONS = 30


def _risk(scenario, view: PlanView, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Chance of breaching each threshold under this plan and under the default plan, from replications on the
    same seeds (run once in the background; kept on disk by plan digest and seed, so asking again is free)."""
    with st.expander(tr("review.risk")):
        key = f"risk:{view.plan_id}:{view.version}"
        job = jobs.get(key)
        if job is None or (job.done and (job.error or job.cancelled)):
            if st.button(tr("review.risk_run", n=RISK_REPLICATIONS), key=f"risk_{view.plan_id}"):
                import tempfile
                from pathlib import Path

                from command.sweeps import risk
                from scenarios.defaults import default_plan

                plans = {"this": view.plan, "default": default_plan(scenario)}
                folder = Path(tempfile.gettempdir()) / "yiwang-risk"

                def work(report):  # type: ignore[no-untyped-def]
                    return risk(scenario, plans, replications=RISK_REPLICATIONS, seed=seed, folder=folder,
                                engine="serial", progress=lambda done, total: report(f"{done}/{total}"))  # fmt: skip

                jobs.start(key, "risk", work, steps=2 * RISK_REPLICATIONS + 2)
                st.rerun()
            return
        if job.running:
            job_progress(key, f"cancel_{key}")
            return
        if job_outcome_shown(job):
            return
        for label in ("this", "default"):
            result = job.result[label]
            st.markdown(f"**{tr('review.risk_this' if label == 'this' else 'review.risk_default')}**")
            for name, b in result["breaches"].items():
                st.markdown("- " + tr("review.risk_row", label=name, p=f"{100 * b['p']:.1f}%",
                                      lo=f"{100 * b['ci_low']:.1f}%", hi=f"{100 * b['ci_high']:.1f}%"))  # fmt: skip


def _what_binds(view: PlanView) -> None:
    lines = view.solver.get("rationale") or view.forecast.get("rationale") or []
    diagnosis = view.solver.get("diagnosis")
    if lines or diagnosis:
        with st.expander(tr("review.binds"), expanded=True):
            if lang() == "zh":
                st.caption(tr("review.binds_original"))
            for line in lines:
                st.markdown(f"- {line}")
            if diagnosis:
                st.warning(diagnosis)


def _trade_off(view: PlanView) -> None:
    """The optimiser's trade-off set (rider wait against car delay), this plan marked, and what one more
    cleared period costs; only plans whose optimiser made one (typhoon)."""
    points = view.plan.meta.trade_off
    if not points:
        return
    st.markdown(f"**{tr('review.trade_off')}**")
    text = {"x": tr("review.trade_off.x"), "y": tr("review.trade_off.y"), "chosen": tr("review.trade_off.chosen"),
            "other": tr("review.trade_off.other"), "kind": tr("review.trade_off.kind"),
            "weight": tr("review.trade_off.weight"), "cleared": tr("review.trade_off.cleared"),
            "stranded": tr("review.trade_off.stranded"), "ways": tr("review.trade_off.ways")}  # fmt: skip
    st.altair_chart(views.trade_off_chart(points, text), width="stretch")
    price = views.cleared_period_price(points)
    if price is None:  # no schedule clears the same tunnels longer or shorter: they differ in where
        chosen = next((p for p in points if p.chosen), points[0])
        step = views.step_to_less_car_delay(points)
        if step is None:
            st.markdown(tr("review.trade_off.no_step", periods=chosen.cleared_periods))
        else:
            st.markdown(tr("review.trade_off.step", weight=f"{step.vehicle_weight:g}",
                           ways=", ".join(step.cleared_ways) or "-", periods=step.cleared_periods,
                           chosen_periods=chosen.cleared_periods, vehicle_h=f"{step.vehicle_h:,.0f}",
                           rider_min=f"{step.rider_min:,.0f}", stranded=f"{step.stranded:,.0f}"))  # fmt: skip
    else:
        key = "review.trade_off.reading" if price.rider_min >= 0 else "review.trade_off.reading_no_saving"
        st.markdown(tr(key, minutes=f"{price.period_min:g}", vehicle_h=f"{price.vehicle_h:,.1f}",
                       rider_min=f"{abs(price.rider_min):,.0f}"))  # fmt: skip
    st.caption(tr("review.trade_off.source"))


def _crowd_controls(view: PlanView, scenario) -> None:  # type: ignore[no-untyped-def]
    """A crowd plan's controls as a commander reads them: metering per entrance (one row per unbroken spell, the
    rate per period beneath), the one-way walkways, and the staff posts with what each pool keeps in reserve."""
    st.markdown(f"**{tr('review.crowd')}**")
    names = views.place_names(scenario, lang())  # in the reader's language
    clock = scenario.clock

    def place(node: str) -> str:
        return f"{names[node]} ({node})" if node in names else node

    def until(t_s: float | None) -> str:
        return tr("review.crowd.end") if t_s is None else clock.label(t_s)

    col = {k: tr(f"review.crowd.col.{k}") for k in ("node", "from", "until", "rate", "low", "high", "steps",
                                                     "walkway", "pool", "post", "count", "note")}  # fmt: skip
    spells = views.meter_spells(view.plan)
    if spells:
        st.markdown(tr("review.crowd.metering", n=len({m.node for m in spells})))
        st.dataframe([{col["node"]: place(m.node), col["from"]: clock.label(m.from_s), col["until"]: until(m.until_s),
                       col["low"]: m.low, col["high"]: m.high, col["steps"]: len(m.rates)} for m in spells],
                     hide_index=True, width="stretch")  # fmt: skip
        meters = sorted((a for a in view.plan.actions if a.type == "meter_flow"), key=lambda a: (a.node, a.at_s))
        with st.expander(tr("review.crowd.metering_steps", n=len(meters))):
            st.dataframe([{col["node"]: place(a.node), col["from"]: clock.label(a.at_s), col["until"]: until(a.until_s),
                           col["rate"]: a.rate_per_min} for a in meters], hide_index=True, width="stretch")  # fmt: skip
    else:
        st.caption(tr("review.crowd.no_metering"))
    holds = views.meter_spells(view.plan, HoldArea)
    if holds:
        st.markdown(tr("review.crowd.holds", n=len({h.node for h in holds})))
        st.dataframe([{col["node"]: place(h.node), col["from"]: clock.label(h.from_s), col["until"]: until(h.until_s),
                       col["low"]: h.low, col["high"]: h.high, col["steps"]: len(h.rates)} for h in holds],
                     hide_index=True, width="stretch")  # fmt: skip
    ways = views.one_ways(view.plan)
    if ways:
        st.markdown(tr("review.crowd.one_way", n=len(ways)))
        st.dataframe([{col["walkway"]: f"{place(a.u)} → {place(a.v)}", col["from"]: clock.label(a.at_s),
                       col["until"]: until(a.until_s), col["note"]: a.note} for a in ways],
                     hide_index=True, width="stretch")  # fmt: skip
    else:
        st.caption(tr("review.crowd.no_one_way"))
    posts = views.staff_posts(view.plan)
    if posts:
        st.markdown(tr("review.crowd.staff", n=len(posts)))
        st.dataframe([{col["pool"]: a.pool, col["post"]: place(a.to), col["count"]: a.count,
                       col["from"]: clock.label(a.at_s), col["until"]: until(a.until_s)} for a in posts],
                     hide_index=True, width="stretch")  # fmt: skip
        posted = views.most_on_post(posts)
        pools = [tr("review.crowd.pool_line", pool=pool, posted=posted.get(pool, 0), count=team.count)
                 for pool, team in scenario.staff.items()]  # fmt: skip
        st.caption(tr("review.crowd.pools", text="; ".join(pools)))
    else:
        st.caption(tr("review.crowd.no_staff"))


def _assignments(actor: Actor, view: PlanView, scenario) -> None:  # type: ignore[no-untyped-def]
    st.markdown(f"**{tr('review.assignments')}**")
    language = lang()
    people, masked = roster(store(), actor, view.incident_id)
    entries = [ics.RosterEntry(team=p.team, name=p.name, phone=p.phone, role=p.role) for p in people]
    for team in ics.assignment_lists(view.plan, scenario, roster=entries):
        leader = f" · {team.leader.name} {team.leader.phone}" if team.leader else ""
        with st.expander(f"{words.pick(ics.TEAM_LABELS.get(team.team, team.team), language)} ({len(team.lines)})"
                         f"{leader}"):  # fmt: skip
            st.dataframe([{tr("review.col.time"): line.at.strftime("%H:%M"),
                           tr("review.col.until"): line.until.strftime("%H:%M") if line.until else "",
                           tr("review.col.action"): words.pick(ics.ACTION_LABELS.get(line.action, line.action),
                                                               language),
                           tr("review.col.where"): line.where, tr("review.col.count"): line.count,
                           tr("review.col.detail"): words.detail(line.detail, language)} for line in team.lines],
                         hide_index=True, width="stretch")  # fmt: skip
    if masked:
        st.caption(tr("incident.masked"))


def _diff(actor: Actor, view: PlanView, by_id: dict[int, PlanView]) -> None:
    previous = view.forecast.get("previous_plan")
    if previous is None:
        earlier = [
            p
            for p in by_id.values()
            if p.plan_id < view.plan_id and p.status in {"active", "superseded", "approved", "completed"}
        ]
        previous = earlier[-1].plan_id if earlier else None
    with st.expander(tr("review.diff")):
        if previous is None:
            st.caption(tr("review.no_previous"))
        else:
            st.code("\n".join(diff(store(), actor, (previous, None), (view.plan_id, view.version))), language=None)


def _decisions(view: PlanView) -> None:
    if view.decisions:
        st.markdown(f"**{tr('review.decisions')}**")
        language = lang()
        st.caption(tr("admin.times_utc"))
        st.dataframe([{tr("review.col.decision"): words.code("decision", d.decision, language),
                       tr("review.col.version"): d.version, tr("review.col.by"): d.by,
                       tr("review.col.at"): f"{d.at:%Y-%m-%d %H:%M:%S}", tr("review.col.reason"): d.reason}
                      for d in view.decisions], hide_index=True, width="stretch")  # fmt: skip


def _is_decider(actor: Actor, view: PlanView, holder: str | None) -> bool:
    """Whether this user decides on the plan: the incident's holder, with the right to decide (a trainee, in
    drills)."""
    may_decide = actor.can("plan.decide") or (view.exercise and actor.role == "observer")
    return bool(may_decide and holder == actor.username)


def _decide(actor: Actor, view: PlanView, holder: str | None, scenario: Any) -> None:
    st.markdown(f"**{tr('review.decide')}**")
    if not _is_decider(actor, view, holder):
        st.info(tr("review.not_holder", holder=holder or tr("common.none")))
        return
    shown = view.shown()  # exactly what this page showed: this version, this digest, these forecasts
    warnings = view.warnings
    lines = warning_lines(view.forecast.get("warnings") or [], scenario.kind, views.place_names(scenario, lang()))
    approve_col, reject_col = st.columns(2)
    with approve_col, st.form(f"approve_{view.plan_id}_{view.version}"):
        # Each warning acknowledged on its own (`command.plans.approve_plan(acknowledged=)`); the decision and its
        # audit entry record which.
        ticked = [w.number for w, line in zip(warnings, lines, strict=True)
                  if st.checkbox(tr("review.ack", n=w.number, line=line), key=f"approve_ack_{w.number}")]  # fmt: skip
        password = st.text_input(tr("review.password"), type="password", key="approve_password")
        if st.form_submit_button(tr("review.approve"), type="primary"):
            if len(ticked) < len(warnings):
                st.error(tr("review.warnings_unread", n=len(warnings) - len(ticked)))
            else:
                approve(view.plan_id, shown, password, acknowledged=ticked)
    with reject_col, st.form(f"reject_{view.plan_id}_{view.version}"):
        reason = st.text_area(tr("review.reason"), key="reject_reason")
        password = st.text_input(tr("review.password"), type="password", key="reject_password")
        if st.form_submit_button(tr("review.reject")):
            reject(view.plan_id, shown, password, reason)


def approve(plan_id: int, shown: Shown, password: str, *, acknowledged: list[int] | None = None) -> bool:
    """Approve as whoever the session token says, now, with the warnings acknowledged; refusals are shown, never
    trusted to the page."""
    try:
        approve_and_apply(store(), actor_for_action(), plan_id, password=password, shown=shown,
                          acknowledged=acknowledged or [], source=client_source())  # fmt: skip
    except (CommandError, AuthFailed) as exc:
        st.error(tr("review.refused", error=words.refusal(exc, lang())))
        if type(exc) is AuthFailed:  # a wrong password: say how many more make this console wait, before they do
            _warn_lockout(exc)
        return False
    st.session_state.pop(WRONG, None)
    st.session_state["review_decided"] = True
    st.session_state[CONFIRMED] = tr("review.approved", plan=plan_id, version=shown.version)
    st.rerun()
    return True


WRONG = "yiwang_wrong_passwords"
CONFIRMED = "yiwang_review_confirmed"


def _warn_lockout(exc: AuthFailed) -> None:
    """After a wrong password at a decision: how many more make this console wait before the next try (the store
    says: `AuthFailed.attempts_left`), and that the account itself is not locked by one console's mistakes
    (`command.security`: an account locks only on failures from several sources; an admin can unlock it)."""
    wrong = int(st.session_state.get(WRONG, 0)) + 1
    st.session_state[WRONG] = wrong
    if exc.wait_s:
        st.warning(tr("review.lockout_wait", wrong=wrong, seconds=f"{exc.wait_s:.0f}"), icon="🔒")
    elif exc.attempts_left is not None:
        st.warning(tr("review.lockout_warning", wrong=wrong, left=exc.attempts_left), icon="🔒")


def reject(plan_id: int, shown: Shown, password: str, reason: str) -> bool:
    try:
        reject_plan(store(), actor_for_action(), plan_id, password=password, shown=shown, reason=reason,
                    source=client_source())
    except (CommandError, AuthFailed) as exc:
        st.error(tr("review.refused", error=words.refusal(exc, lang())))
        return False
    st.session_state["review_decided"] = True
    st.session_state[CONFIRMED] = tr("review.rejected", plan=plan_id)
    st.rerun()
    return True


def _download(actor: Actor, view: PlanView) -> None:
    """The ICS-204 lists of a decided plan, as the CLI exports them (roster masked as this user may see it)."""
    from command.paperwork import DECIDED, forms

    if not actor.can("export") or view.status not in DECIDED:
        return
    contents, _, _ = forms(store(), actor, view.plan_id)
    name = next(n for n in contents if n.startswith("ics204_") and n.endswith(".html"))
    st.download_button(tr("review.export"), contents[name], file_name=name, mime="text/html", key="review_download",
                       on_click=record_export, args=(view.plan_id, name))  # fmt: skip


def record_export(plan_id: int, file_name: str) -> None:
    """Every download of paperwork leaves an audit entry, as the identity the session resolves to."""
    from command.paperwork import audit_export

    audit_export(store(), actor_for_action(), plan_id, files=[file_name], via="console")
