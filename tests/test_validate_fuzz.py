"""`yiwang validate` on malformed scenarios: one precise line per problem, exit 0 or 2, never a traceback."""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from command.cli import main
from scenarios.loading import YAML_LOADER, builtin_scenario_dir, builtin_scenario_names

DATA = Path(__file__).parent / "data"
BASES = {"one_site_mmc": (DATA / "one_site_mmc.yaml").read_text(encoding="utf-8")}
BASES.update({n: (builtin_scenario_dir() / f"{n}.yaml").read_text(encoding="utf-8") for n in builtin_scenario_names()})
WORKDIR = Path(tempfile.mkdtemp(prefix="yiwang-fuzz-"))
shutil.copy(DATA / "one_site.geojson", WORKDIR / "one_site.geojson")

nasty_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -1, 0, 1e308, float("inf"), float("nan"), -0.0, 2**63, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["no_such_node", "", "zone_tomorrowland", "site_a", "centre_a", "exponential", "ab"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


@st.composite
def mutated_documents(draw):
    """A built-in or fixture scenario with one to three structural mutations, or its text damaged."""
    name = draw(st.sampled_from(sorted(BASES)))
    text = BASES[name]
    if draw(st.integers(0, 4)) == 0:  # damage the text itself
        how = draw(st.sampled_from(["truncate", "insert", "delete_line", "tabs"]))
        if how == "truncate":
            return text[: draw(st.integers(0, len(text)))]
        if how == "insert":
            at = draw(st.integers(0, len(text)))
            return (
                text[:at]
                + draw(
                    st.sampled_from(
                        [":", "- ", "{", "]", "\t", "&a", "*a", "!!python/object:os.system ''", "\x00", "'"]
                    )
                )
                + text[at:]
            )
        lines = text.splitlines()
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if how == "delete_line":
            return "\n".join(lines[:i] + lines[i + 1 :])
        return "\n".join([*lines[:i], "\t" + lines[i] if lines else "", *lines[i + 1 :]])
    doc = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = _get(doc, path[:-1])
        key = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "extra", "negate", "huge"]))
        if action == "replace":
            parent[key] = draw(nasty_values)
        elif action == "delete":
            del parent[key]
        elif action == "extra" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(nasty_values)
        elif action == "negate" and isinstance(parent[key], int | float) and not isinstance(parent[key], bool):
            parent[key] = -parent[key] - 1
        elif action == "huge" and isinstance(parent[key], int | float) and not isinstance(parent[key], bool):
            parent[key] = parent[key] * 10**12 + 10**15
        doc = copy.deepcopy(doc)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


#: What `validate` may name instead of a field when there is none: the text does not parse as YAML, or the
#: document as a whole is wrong (not a mapping, or a check across fields that names no single field).
PSEUDO_PATHS = {"(yaml)", "(document)"}
#: The top-level fields of the documents mutated (every kind is among them): one deleted is reported by its name.
TOP_LEVEL = {key for text in BASES.values() for key in yaml.safe_load(text)}

_KEY = r"[A-Za-z0-9_\-]+"
_QUOTED = r"""\[(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]"""
_STEP = re.compile(rf"\.({_KEY})|\[(\d+)\]|({_QUOTED})")
_PATH = rf"(?:{_KEY}|{_QUOTED})(?:\.{_KEY}|\[\d+\]|{_QUOTED})*"
#: `FILE: field.path: reason`, the file as given on the command line, a non-empty one-line reason.
LINE = re.compile(rf"case\.yaml: (?P<path>{_PATH}|\(yaml\)|\(document\)): (?P<reason>\S[^\n]*)")


def _steps(path: str) -> list:
    """`a.b[2]['odd key']` as `['a', 'b', 2, 'odd key']` (the inverse of `scenarios.errors.dotted`)."""
    first = re.match(rf"{_KEY}|{_QUOTED}", path)
    assert first is not None, path
    head = first.group(0)
    out: list = [ast.literal_eval(head[1:-1]) if head.startswith("[") else head]
    at = first.end()
    while at < len(path):
        m = _STEP.match(path, at)
        assert m is not None, path
        key, index, quoted = m.groups()
        out.append(key if key is not None else int(index) if index is not None else ast.literal_eval(quoted[1:-1]))
        at = m.end()
    return out


def _resolves(doc, steps) -> bool:
    """Whether these steps lead somewhere in the parsed document."""
    for step in steps:
        if isinstance(doc, dict) and step in doc:
            doc = doc[step]
        elif isinstance(doc, dict) and isinstance(step, int) and str(step) in doc:
            doc = doc[str(step)]
        elif isinstance(doc, list) and isinstance(step, int) and 0 <= step < len(doc):
            doc = doc[step]
        else:
            return False
    return True


def _parsed(text: str):
    """The document as the product's YAML reader sees it (libyaml's C loader where it is installed, which differs
    from the pure-Python loader on a few edge cases, e.g. tabs inside plain scalars)."""
    try:
        return yaml.load(text, Loader=YAML_LOADER)  # a safe loader
    except Exception:  # any parse failure means the text is not YAML
        return _UNPARSED


_UNPARSED = object()


def _validate(text: str) -> tuple[int, str, str, set[str]]:
    (WORKDIR / "case.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(WORKDIR), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", "case.yaml"])
    return code, out.getvalue(), err.getvalue(), {p.name for p in WORKDIR.iterdir()}


def check_problem_line(line: str, doc) -> None:
    """One line of `validate`'s refusal: the strict form, and a path that points into this document."""
    m = LINE.fullmatch(line)
    assert m, f"not `case.yaml: field.path: reason`: {line!r}"
    path, reason = m.group("path"), m.group("reason")
    assert reason.strip(), line
    if path == "(yaml)":
        assert doc is _UNPARSED, f"a parsable document reported as a YAML error: {line!r}"
        return
    assert doc is not _UNPARSED, f"unparsable text reported at a field: {line!r}"
    if path == "(document)":
        return
    assert isinstance(doc, dict), f"a document that is not a mapping reported at a field: {line!r}"
    steps = _steps(path)
    missing = reason == "required field is missing"
    where = steps[:-1] if missing else steps
    # A field reported missing is absent where its parent is; any other path names a place in the document
    # (or a top-level field, which may be absent altogether).
    assert _resolves(doc, where) or (len(steps) == 1 and steps[0] in TOP_LEVEL), (
        f"{path!r} is not in the document: {line!r}"
    )
    if missing:
        assert not _resolves(doc, steps), f"reported missing but present: {line!r}"


def _with_odd_tester_pool() -> str:
    """The fixture with a tester pool whose name breaks the naming rule (a mapping key, not a field, is wrong)."""
    doc = yaml.safe_load(BASES["one_site_mmc"])
    doc["resources"]["testers"]["bad pool!"] = dict(doc["resources"]["testers"]["local"])
    return yaml.safe_dump(doc, sort_keys=False)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
@example(_with_odd_tester_pool())
def test_malformed_scenarios_exit_0_or_2_with_precise_lines(text):
    """Every mutated document is either valid (exit 0, one `valid` line, warnings only as `case.yaml: field.path:
    warning: reason` lines) or refused with nothing written and one `case.yaml: field.path: reason` line per
    problem, each path pointing into the document (exit 2)."""
    code, out, err, files = _validate(text)
    assert code in (0, 2), (code, out, err)
    assert files == {"case.yaml", "one_site.geojson"}, "validate wrote a file"
    if code == 0:
        assert re.fullmatch(r"case\.yaml: valid \((crowd|typhoon|mass_testing): [^\n]+\)\n", out), out
        for line in err.splitlines():
            m = LINE.fullmatch(line)
            assert m and m["reason"].startswith("warning: "), line
            check_problem_line(line, _parsed(text))
        return
    assert out == "", out
    lines = err.splitlines()
    assert lines and err.endswith("\n"), err
    doc = _parsed(text)
    for line in lines:
        check_problem_line(line, doc)


def test_the_line_checker_refuses_loose_lines():
    """The form check refuses a line without a path, a path not in the document, a bare reason or another file."""
    doc = {"resources": {"testers": {"local": {"count": 8}}}, "population": {"zones": [{"node": "z"}]}}
    check_problem_line("case.yaml: resources.testers.local.count: -3 is negative", doc)
    check_problem_line("case.yaml: population.zones[0].visitors: required field is missing", doc)
    check_problem_line("case.yaml: graph: required field is missing", doc)
    for bad in ["case.yaml: -3 is negative", "case.yaml: resources.testers.local.cuont: -3 is negative",
                "case.yaml: population.zones[1].node: unknown node", "case.yaml: resources.buses: ",
                "other.yaml: resources: unknown field", "case.yaml: (yaml): line 1, column 2: bad",
                "case.yaml: resources.testers.local.count: required field is missing"]:  # fmt: skip
        with pytest.raises(AssertionError):
            check_problem_line(bad, doc)
