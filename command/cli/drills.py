"""`yiwang drill`: start a training exercise with injects and a trainee in command, and score it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from command.cli.common import DbOption, JsonOption, UserOption, handles_input_errors, log_in, open_store, say

app = typer.Typer(help="Training drills: an exercise with injects, a trainee in command, a score.",
                  no_args_is_help=True)  # fmt: skip


@app.command("start")
@handles_input_errors
def drill_start(
    scenario: Annotated[str, typer.Argument(help="A scenario file or built-in name.", metavar="FILE_OR_NAME")],
    injects: Annotated[str, typer.Option(help="The inject script: a YAML list of injects, or a built-in drill "
                                              "(disney_testers_delayed, bund_2014_metro_surge, "
                                              "typhoon_upgraded).", metavar="FILE_OR_NAME")],
    jurisdiction: Annotated[str, typer.Option(help="Jurisdiction code of the exercise.")],
    trainee: Annotated[str, typer.Option(help="The trainee who takes command (a commander or an observer).")],
    hours: Annotated[float, typer.Option(help="How long the trainee holds command.")] = 8.0,
    set_: Annotated[list[str] | None, typer.Option("--set", help="field.path=value (repeatable).")] = None,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Open an EXERCISE incident with the injects and put the trainee in command (admins)."""
    from command.drills import read_injects, start_drill

    script = read_injects(injects)
    store = open_store(db_url)
    actor = log_in(store, user, "drill start")
    actor.require("grants.manage", "start drills")
    iid = start_drill(store, actor, scenario, injects=script, jurisdiction=jurisdiction, trainee=trainee,
                      hours=hours, file=Path(injects).name, overrides=set_ or [])  # fmt: skip
    say(f"exercise incident {iid} opened with {len(script)} injects; {trainee} is in command")


@app.command("score")
@handles_input_errors
def drill_score(
    incident_id: Annotated[int, typer.Argument(help="The exercise incident.", metavar="INCIDENT")],
    as_json: JsonOption = False,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Score each of the trainee's decisions against the optimiser's proposal at that moment."""
    from command.drills import score_drill, scores_json

    store = open_store(db_url)
    scores = score_drill(store, log_in(store, user, "drill score"), incident_id)
    if as_json:
        say(scores_json(scores))
        return
    for s in scores:
        say(s.line())
    if scores:
        say(f"mean score {sum(s.score for s in scores) / len(scores):.0f}/100")
    else:
        say("no decisions yet")
