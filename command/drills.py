"""Training drills: an exercise incident with a script of injects, a trainee in command, and a score.

A drill is a scenario plus injects (a YAML list, merged into the scenario's own), opened as an EXERCISE
incident in a jurisdiction, with command of it granted to the trainee. The injects change the simulated
world at their times (`scenarios/injects.py`; conditional ones only if the trainee's plans led to the state
their condition names), and the loop stops at each of them for a decision.

Each decision the trainee takes is scored against what the optimiser proposed at that moment: the plan the
trainee put into effect (or, on a rejection, the plan that stayed in effect, or the default plan) is simulated
beside the optimiser's own proposal (version 1 of the same plan), from the stored scenario and the incident's
seed, and compared on the scenario kind's headline KPIs (lower is better). A score of 100 matches the
optimiser. Nothing random or time-limited enters the score, so it is reproducible from the stored decisions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select

from command.authority import grant_command, incident_for, usernames
from command.errors import BadInput, Conflict
from command.incidents import demo_roster, import_roster, open_incident, scenario_of
from command.kinds import kind_of, simulate
from command.security import Actor
from command.store import Decision, PlanRecord, PlanVersion, Store
from scenarios import Plan, ScenarioError, load_scenario
from scenarios.defaults import default_plan
from scenarios.loading import read_yaml, scenario_from_document


def score_kpis(scenario: Any) -> tuple[str, ...]:
    """The KPIs a decision is scored on: the scenario kind's headline KPIs (lower is better for each)."""
    return tuple(k.name for k in kind_of(scenario).spec.headline)


def builtin_drill_dir() -> Path:
    return Path(str(resources.files("scenarios") / "data" / "drills"))


def builtin_drill_names() -> list[str]:
    """The inject scripts that come with Yiwang (each says in its comments which scenario it is for)."""
    return sorted(p.stem for p in builtin_drill_dir().glob("*.yaml"))


def read_injects(ref: str | Path) -> list[dict[str, Any]]:
    """An inject script, by built-in name or path: a YAML list of injects (at_s, kind, target, params,
    condition, note)."""
    path = Path(ref).expanduser()
    if str(ref) in builtin_drill_names() and not path.is_file():
        path = builtin_drill_dir() / f"{ref}.yaml"
    elif not path.is_file():
        names = ", ".join(builtin_drill_names()) or "none"
        raise BadInput(f"{ref}: no such file, and not a built-in drill (built-in: {names})")
    try:
        doc = read_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    except ScenarioError as exc:
        raise BadInput("\n".join(str(p) for p in exc.problems)) from None
    if not isinstance(doc, list) or not all(isinstance(i, dict) for i in doc):
        raise BadInput(f"{path}: expected a list of injects (mappings with at_s, kind, ...)")
    return doc


def start_drill(
    store: Store,
    admin: Actor,
    ref: str,
    *,
    injects: list[dict[str, Any]],
    jurisdiction: str,
    trainee: str,
    hours: float = 8.0,
    file: str = "injects",
    overrides: list[str] | None = None,
) -> int:
    """Open the exercise incident with the injects and grant command to the trainee; the incident id.

    `overrides` (`field.path=value`, as `yiwang run --set`) change the scenario first, e.g. a shorter horizon."""
    base = load_scenario(ref, overrides=overrides)
    doc = base.model_dump(mode="json")
    doc["injects"] = [*doc.get("injects", []), *injects]
    try:
        scenario = scenario_from_document(doc, file=file)
    except ScenarioError as exc:
        raise BadInput("\n".join(str(p) for p in exc.problems)) from None
    iid = open_incident(store, admin, scenario, jurisdiction=jurisdiction, exercise=True,
                        title=f"[演练 DRILL] {scenario.title}")  # fmt: skip
    import_roster(store, admin, iid, demo_roster(scenario))
    grant_command(store, admin, iid, trainee, hours=hours, reason="drill: trainee in command")
    return iid


@dataclass(frozen=True)
class DecisionScore:
    """One decision, what it put into effect, and how it compares with the optimiser's proposal."""

    plan_number: int
    version: int
    decision: str
    by: str
    in_effect: str
    kpis: dict[str, float]
    reference: dict[str, float]
    score: float

    def line(self) -> str:
        parts = ", ".join(f"{k} {self.kpis[k]:,.1f} vs {self.reference[k]:,.1f}" for k in self.reference)
        return (f"plan {self.plan_number} v{self.version} {self.decision} by {self.by}: {self.in_effect} in effect; "
                f"{parts}; score {self.score:.0f}/100")  # fmt: skip


def _score(kpis: dict[str, float], reference: dict[str, float]) -> float:
    """100 × the mean over KPIs of min(1, reference / trainee's), lower being better for each."""
    ratios = []
    for k, ref in reference.items():
        mine = kpis[k]
        ratios.append(1.0 if mine <= ref or mine <= 0 else max(0.0, ref) / mine)
    return 100.0 * sum(ratios) / len(ratios) if ratios else 100.0


def score_drill(store: Store, actor: Actor, incident_id: int) -> list[DecisionScore]:
    """Score every decision of an exercise incident, in the order they were taken."""
    actor.require("incident.read", "read incidents")
    with store.read() as session:
        incident = incident_for(session, actor, incident_id)
        if not incident.exercise:
            raise Conflict(f"incident {incident_id} is not an exercise; only drills are scored")
        scenario, seed = scenario_of(incident), incident.seed
        names = usernames(session)
        rows = session.execute(
            select(Decision, PlanRecord.number)
            .join(PlanRecord, Decision.plan_id == PlanRecord.id)
            .where(PlanRecord.incident_id == incident_id)
            .order_by(Decision.id)
        ).all()
        versions = {(v.plan_id, v.version): Plan.model_validate_json(v.plan_json)
                    for v in session.scalars(select(PlanVersion).join(PlanRecord)
                                             .where(PlanRecord.incident_id == incident_id))}  # fmt: skip
    keys = score_kpis(scenario)
    cache: dict[str, dict[str, float]] = {}

    def kpis_of(plan: Plan) -> dict[str, float]:
        digest = plan.digest()
        if digest not in cache:
            cache[digest] = dict(simulate(scenario, plan, seed=seed).kpis)
        return cache[digest]

    out: list[DecisionScore] = []
    in_effect: tuple[str, Plan] = ("the default plan", default_plan(scenario))
    for decision, number in rows:
        reference_plan = versions[(decision.plan_id, 1)]
        if decision.decision == "approved":
            in_effect = (f"plan {number} v{decision.version}", versions[(decision.plan_id, decision.version)])
        reference = {k: kpis_of(reference_plan)[k] for k in keys}
        mine = {k: kpis_of(in_effect[1])[k] for k in keys}
        out.append(DecisionScore(number, decision.version, decision.decision, names.get(decision.user_id, "?"),
                                 in_effect[0], mine, reference, _score(mine, reference)))  # fmt: skip
    return out


def scores_json(scores: list[DecisionScore]) -> str:
    return json.dumps([s.__dict__ for s in scores], ensure_ascii=False, indent=1)


__all__ = ["DecisionScore", "read_injects", "score_drill", "score_kpis", "scores_json", "start_drill"]
