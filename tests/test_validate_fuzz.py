"""`yiwang validate` on malformed scenarios: one precise line per problem, exit 0 or 2, never a traceback."""

from __future__ import annotations

import contextlib
import copy
import io
import shutil
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command.cli import main
from scenarios.loading import builtin_scenario_dir, builtin_scenario_names

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


def _validate(text: str) -> tuple[int, str, str]:
    path = WORKDIR / "case.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_malformed_scenarios_exit_0_or_2_with_precise_lines(text):
    """Every mutated document is either valid (exit 0) or refused with `FILE: path: reason` lines (exit 2)."""
    code, out, err = _validate(text)
    assert code in (0, 2), (code, out, err)
    assert "Traceback" not in out + err and "internal error" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert lines
        for line in lines:
            assert line.startswith("case.yaml: "), line
            assert len(line.split(": ")) >= 3 or line.count(": ") >= 1, line
