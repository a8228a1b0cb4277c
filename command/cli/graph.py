"""`yiwang graph FILE`: find your way in a city graph — its summary, its nodes by kind or near a point, an export to
GeoJSON and an offline map page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import networkx as nx
import typer

from command.cli.common import EXIT_BAD_INPUT, fail, handles_input_errors, say
from command.graph_page import graph_page
from scenarios import builtin_graph_names, load_graph, load_scenario, summarise
from scenarios.graphs import scenario_graph
from scenarios.graphs.export import node_rows, parse_point, to_geojson
from scenarios.loading import builtin_scenario_names

REF_HELP = "A graph file (.osm, .geojson, .graphml), a built-in graph, or a scenario (its graph with its overlay)."


def _graph_of(ref: str) -> nx.DiGraph:
    """A graph by built-in name or file, or the graph a scenario (by name or YAML file) runs on, overlay and all."""
    if ref not in builtin_graph_names() and (ref in builtin_scenario_names() or ref.endswith((".yaml", ".yml"))):
        return scenario_graph(load_scenario(ref))
    return load_graph(ref)


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail([f"{path}: cannot write the {what}: {exc.strerror or exc}"], EXIT_BAD_INPUT)
    say(f"wrote {path} ({what})")


@handles_input_errors
def graph(
    ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="FILE_OR_NAME")],
    nodes: Annotated[bool, typer.Option("--nodes", help="List node ids (with kind, place, modes, name).")] = False,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Only nodes of this kind (repeatable).")] = None,
    near: Annotated[str | None, typer.Option("--near", help="Nearest nodes first from LON,LAT.", metavar="LON,LAT")]
    = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N nodes (10 with --near).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the graph as GeoJSON.", metavar="FILE.geojson")]
    = None,
    html: Annotated[Path | None, typer.Option("--html", help="Draw the graph on an offline page.", metavar="FILE")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary (or the nodes) as JSON.")] = False,
) -> None:
    """Summarise a city graph (nodes by kind, edges by mode, lengths, extent); list its nodes, export it, draw it."""
    point = None
    if near is not None:
        try:
            point = parse_point(near)
        except ValueError as exc:
            fail([f"--near: {exc}"], EXIT_BAD_INPUT)
    g = _graph_of(ref)
    if out is not None:
        _write(out, json.dumps(to_geojson(g), ensure_ascii=False, indent=1) + "\n", "GeoJSON")
    if html is not None:
        _write(html, graph_page(g), "map page")
    if nodes or kind or point is not None:
        rows = node_rows(g, kinds=kind or (), near=point, limit=limit or (10 if point is not None else None))
        if as_json:
            typer.echo(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=1))
        else:
            for row in rows:
                say(row.line())
            if not rows:
                say(f"no nodes{' of kind ' + ', '.join(kind) if kind else ''} in {ref}")
        return
    if out is not None or html is not None:
        return
    summary = summarise(g)
    if as_json:
        typer.echo(json.dumps(summary.__dict__, ensure_ascii=False, indent=2))
    else:
        for line in summary.lines():
            say(line)
