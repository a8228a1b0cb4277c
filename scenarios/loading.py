"""Load scenarios from YAML by built-in name or path, with what-if overrides, and check them whole.

`load_scenario` validates once and raises `ScenarioError` listing every problem as `FILE: field.path: reason`
— broken YAML, wrong types, missing fields, out-of-range numbers, nodes the city graph does not have, or
nodes of the wrong kind. Nothing else escapes it for bad input.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

import networkx as nx
import yaml
from pydantic import ValidationError

from scenarios.errors import Problem, ScenarioError, problems_from_validation
from scenarios.graphs import PEDESTRIAN_MODES, builtin_graph_names, load_graph, scenario_graph
from scenarios.graphs.overlay import apply_overlay
from scenarios.injects import NODE_TARGETS, WALKWAY_EVENTS
from scenarios.kinds import kind_names, spec_of
from scenarios.plan import parse_action
from scenarios.schema import Scenario, node_refs, scenario_hash

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024  # the built-in scenarios are under 10 KB
MAX_YAML_NODES = 60_000  # values and collections: a 10,000-period arrival profile and the rest fit


def builtin_scenario_dir() -> Path:
    return Path(str(resources.files("scenarios") / "data" / "scenarios"))


def builtin_scenario_names() -> list[str]:
    return sorted(p.stem for p in builtin_scenario_dir().glob("*.yaml"))


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    kind: str
    title: str
    path: Path


def builtin_scenarios() -> list[ScenarioInfo]:
    """The built-in scenarios with their kind and title (read without full validation)."""
    out = []
    for name in builtin_scenario_names():
        path = builtin_scenario_dir() / f"{name}.yaml"
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}  # a safe loader
        out.append(ScenarioInfo(name, str(doc.get("kind", "?")), str(doc.get("title", "")), path))
    return out


def resolve_scenario_path(ref: str | Path) -> Path:
    """A built-in scenario by name, or a file by path."""
    text = str(ref)
    if text in builtin_scenario_names():
        return builtin_scenario_dir() / f"{text}.yaml"
    path = Path(text).expanduser()
    if path.is_file():
        return path
    names = ", ".join(builtin_scenario_names()) or "none"
    raise ScenarioError.single(text, "", f"no such file, and not a built-in scenario (built-in: {names})")


# ------------------------------------------------------------------------------------------ overrides

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    pos = 0
    for m in _SEGMENT.finditer(path):
        between = path[pos : m.start()]
        if between not in ("", "."):
            raise ValueError(f"cannot read field path {path!r}")
        name, index = m.groups()
        parts.append(int(index) if index is not None else (int(name) if name.isdigit() else name))
        pos = m.end()
    if not parts or path[pos:] not in ("",):
        raise ValueError(f"cannot read field path {path!r}")
    return parts


def apply_overrides(doc: dict[str, Any], overrides: list[str], file: str) -> dict[str, Any]:
    """A copy of `doc` with each `field.path=value` set; the value is read as YAML (`3`, `true`, `[1, 2]`)."""
    out = copy.deepcopy(doc)
    problems = []
    for item in overrides:
        if "=" not in item:
            problems.append(Problem(file, item, "--set needs field.path=value"))
            continue
        path, raw = item.split("=", 1)
        path = path.strip()
        try:
            parts = _split_path(path)
            value = read_yaml(raw, file) if raw.strip() else ""
        except ValueError as exc:
            problems.append(Problem(file, path or item, f"--set: {exc}"))
            continue
        except ScenarioError as exc:
            problems.append(Problem(file, path or item, f"--set: {exc.problems[0].reason}"))
            continue
        target: Any = out
        for depth, part in enumerate(parts[:-1]):
            nxt = parts[depth + 1]
            if isinstance(target, dict):
                if part not in target or target[part] is None:
                    target[part] = [] if isinstance(nxt, int) else {}
                target = target[part]
            elif isinstance(target, list) and isinstance(part, int) and part < len(target):
                target = target[part]
            else:
                target = None
                break
        last = parts[-1]
        if isinstance(target, dict) and not isinstance(last, int):  # noqa: SIM114 (apart, each index type checks)
            target[last] = value
        elif isinstance(target, list) and isinstance(last, int) and last < len(target):
            target[last] = value
        else:
            problems.append(Problem(file, path, "--set: no such field or list position in the scenario"))
    if problems:
        raise ScenarioError(problems)
    return out


# ------------------------------------------------------------------------------------------ loading


def read_document(path: Path, file: str | None = None) -> dict[str, Any]:
    """Parse a YAML document, reporting syntax errors with line and column (naming it `file`, or its base name)."""
    file = file or path.name
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise ScenarioError.single(file, "", f"larger than {MAX_DOCUMENT_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError.single(file, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ScenarioError.single(file, "", f"cannot read: {exc.strerror or exc}") from None
    return parse_document(text, file)


#: PyYAML's C loader where libyaml is there (about ten times faster than the pure-Python one), else the latter.
YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str, file: str) -> Any:
    """Parse YAML safely and in bounded time and memory: the C loader, at most `MAX_DOCUMENT_BYTES` of text and
    `MAX_YAML_NODES` values counted as the document would expand, every alias (`*name`) counting all the values of
    what it repeats (so that a kilobyte of aliases cannot expand into gigabytes). `ScenarioError` with the line
    and column otherwise."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ScenarioError.single(file, "(document)", f"larger than {MAX_DOCUMENT_BYTES // 2**20} MiB")
    try:
        _count_nodes(text, file)
        return yaml.load(text, Loader=YAML_LOADER)  # a safe loader (CSafeLoader or SafeLoader)
    except ScenarioError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ScenarioError.single(file, "(yaml)", f"{where}: {str(exc.problem or exc)[:200]}") from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        raise ScenarioError.single(file, "(yaml)", f"cannot parse: {str(exc)[:200]}") from None


def _count_nodes(text: str, file: str) -> None:
    """Refuse a document whose values, expanded, would number more than `MAX_YAML_NODES` (from its events alone:
    nothing is built)."""
    nodes = 0
    size: dict[str, int] = {}  # anchor -> values under it
    open_: list[tuple[str | None, int]] = []  # collections being read: their anchor and the count at their start
    for event in yaml.parse(text, Loader=YAML_LOADER):
        if isinstance(event, yaml.AliasEvent):
            nodes += size.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor:
                size[event.anchor] = 1
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            open_.append((event.anchor, nodes))
            nodes += 1
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent) and open_:
            anchor, start = open_.pop()
            if anchor:
                size[anchor] = nodes - start
        if nodes > MAX_YAML_NODES:
            mark = event.start_mark
            raise ScenarioError.single(file, "(yaml)", f"line {mark.line + 1}, column {mark.column + 1}: more than "
                                       f"{MAX_YAML_NODES:,} values (aliases counted as written out); "
                                       "a scenario is smaller")  # fmt: skip


def parse_document(text: str, file: str) -> dict[str, Any]:
    doc = read_yaml(text, file)
    if not isinstance(doc, dict):
        raise ScenarioError.single(file, "(document)", f"must be a mapping of fields (got {type(doc).__name__})")
    return doc


def load_scenario(ref: str | Path, *, overrides: list[str] | None = None, label: str | None = None) -> Scenario:
    """Load, validate and cross-check a scenario by built-in name or path; problems name the file as `label` (the
    path as the user gave it: the CLI's) or else by its base name."""
    path = resolve_scenario_path(ref)
    file = label or path.name
    return scenario_from_document(read_document(path, file), file=file, base_dir=path.parent, overrides=overrides)


def scenario_from_document(doc: dict[str, Any], *, file: str, base_dir: Path | None = None,
                           overrides: list[str] | None = None, graph_files: bool = True) -> Scenario:  # fmt: skip
    """Validate a parsed document as a scenario (what `load_scenario` does after reading the file).

    `graph_files=False` (a document uploaded to the console): the graph must be a built-in one; a path is refused
    without being looked at, so an upload can neither read the server's files nor tell which exist."""
    if overrides:
        doc = apply_overrides(doc, overrides, file)
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in kind_names():
        reason = "required field is missing" if kind is None else f"unknown kind {kind!r}"
        raise ScenarioError.single(file, "kind", f"{reason}; expected one of {kind_names()}")
    try:
        scenario: Any = spec_of(kind).schema.model_validate(doc)
    except ValidationError as exc:
        raise ScenarioError(problems_from_validation(file, exc)) from None
    except (RecursionError, OverflowError, ValueError) as exc:
        raise ScenarioError.single(file, "(document)", f"cannot validate: {exc}") from None
    supported = spec_of(kind).injects
    unsupported = [Problem(file, f"injects[{i}].kind", f"{inj.kind!r} does nothing in a {kind} scenario; this kind "
                           f"knows {', '.join(sorted(supported))}")
                   for i, inj in enumerate(scenario.injects) if inj.kind not in supported]  # fmt: skip
    if unsupported:
        raise ScenarioError(unsupported)
    graph_ref = scenario.graph
    if not graph_files and graph_ref not in builtin_graph_names():
        raise ScenarioError.single(file, "graph", f"not a built-in graph (one of {', '.join(builtin_graph_names())}); "
                                   "an uploaded scenario cannot name a file")  # fmt: skip
    if graph_ref not in builtin_graph_names() and base_dir is not None:
        candidate = (base_dir / graph_ref).expanduser()
        if candidate.is_file():
            scenario = scenario.model_copy(update={"graph": str(candidate.resolve())})
    try:
        graph = load_graph(scenario.graph, base_dir=base_dir)
    except ScenarioError as exc:
        raise ScenarioError([Problem(file, "graph", str(p)) for p in exc.problems]) from None
    if scenario.overlay is not None:
        graph = apply_overlay(graph, scenario.overlay, file=file)
    problems = check_against_graph(scenario, graph, file)
    if problems:
        raise ScenarioError(problems)
    return cast(Scenario, scenario)  # a kind's schema model: one of `Scenario` for the built-in kinds


def check_against_graph(scenario: Any, graph: nx.DiGraph, file: str) -> list[Problem]:
    """Every node a scenario names (a drill's closures too) exists in its graph and is of an allowed kind;
    default actions parse."""
    problems = []
    name = graph.graph.get("name", "graph")
    for path, node, ref in node_refs(scenario):
        problems.extend(_check_node(graph, node, ref.kinds, file, path, name))
    for i, raw in enumerate(scenario.default_plan.actions):
        where = f"default_plan.actions[{i}]"
        try:
            action = parse_action(raw)
        except ValidationError as exc:
            problems.extend(problems_from_validation(file, exc, prefix=where))
            continue
        for path, node, ref in node_refs(action, where):
            problems.extend(_check_node(graph, node, ref.kinds, file, path, name))
    for i, inj in enumerate(scenario.injects):
        if inj.kind in NODE_TARGETS and inj.target is not None:  # the node a drill closes
            problems.extend(_check_node(graph, inj.target, (), file, f"injects[{i}].target", name))
        if inj.kind in WALKWAY_EVENTS:  # the walkway an event closes or makes one-way
            problems.extend(_check_walkway(graph, inj.params, file, f"injects[{i}].params", name))
    return problems


def _check_walkway(graph: nx.DiGraph, params: dict[str, Any], file: str, path: str, graph_name: str) -> list[Problem]:
    u, v = str(params["u"]), str(params["v"])
    missing = [Problem(file, f"{path}.{end}", f"unknown node {node!r} (not in graph {graph_name!r})")
               for end, node in (("u", u), ("v", v)) if node not in graph]  # fmt: skip
    if missing:
        return missing
    if not any(graph.has_edge(a, b) and graph.edges[a, b]["mode"] in PEDESTRIAN_MODES for a, b in ((u, v), (v, u))):
        return [Problem(file, path, f"no walkway joins {u!r} and {v!r} (an edge of mode walk or stair)")]
    return []


def _check_node(graph: nx.DiGraph, node: str, kinds: tuple[str, ...], file: str, path: str,
                graph_name: str) -> list[Problem]:  # fmt: skip
    if node not in graph:
        return [Problem(file, path, f"unknown node {node!r} (not in graph {graph_name!r})")]
    kind = graph.nodes[node].get("kind")
    if kinds and kind not in kinds:
        return [Problem(file, path, f"node {node!r} is a {kind}, expected {' or '.join(kinds)}")]
    return []


__all__ = [
    "MAX_DOCUMENT_BYTES", "MAX_YAML_NODES", "YAML_LOADER", "ScenarioInfo", "apply_overrides", "builtin_scenario_dir",
    "builtin_scenario_names", "builtin_scenarios", "check_against_graph", "load_scenario", "parse_document",
    "read_document", "read_yaml", "resolve_scenario_path", "scenario_from_document", "scenario_graph",
    "scenario_hash",
]  # fmt: skip
