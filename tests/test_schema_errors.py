"""Scenario errors name the file, the field path and the reason, one line per problem."""

from __future__ import annotations

import pytest

from scenarios import ScenarioError, load_scenario
from scenarios.loading import parse_document, scenario_from_document


def problems(path, *overrides):
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides=list(overrides))
    return [str(p) for p in info.value.problems]


def test_negative_count_names_the_pool(one_site_mmc):
    """A negative head-count is reported at its field path with the bad value."""
    assert problems(one_site_mmc, "resources.testers.local.count=-3") == [
        "one_site_mmc.yaml: resources.testers.local.count: must be >= 0 (got -3)"
    ]


def test_unknown_node_is_reported_against_the_graph(one_site_mmc):
    """A node the city graph does not have is named with the graph."""
    assert problems(one_site_mmc, "population.zones[0].node=nowhere") == [
        "one_site_mmc.yaml: population.zones[0].node: unknown node 'nowhere' (not in graph 'one_site')"
    ]


def test_node_of_the_wrong_kind_is_refused(one_site_mmc):
    """A test site must be a node of kind test_site."""
    assert problems(one_site_mmc, "testing.sites[0].node=queue_zone") == [
        "one_site_mmc.yaml: testing.sites[0].node: node 'queue_zone' is a zone, expected test_site"
    ]


def test_every_problem_is_listed_at_once(one_site_mmc):
    """Several problems in one document are all reported, each on its own line."""
    found = problems(one_site_mmc, "seed=-1", "testing.sites[0].booths=0", "clock.horizon_s=abc")
    assert found == [
        "one_site_mmc.yaml: clock.horizon_s: input should be a valid number, "
        "unable to parse string as a number (got 'abc')",
        "one_site_mmc.yaml: seed: must be >= 0 (got -1)",
        "one_site_mmc.yaml: testing.sites[0].booths: must be >= 1 (got 0)",
    ]


def test_unknown_field_and_wrong_distribution(one_site_mmc):
    """Typos in field names and unknown distribution families are named."""
    assert problems(one_site_mmc, "testing.swab_tme=3") == ["one_site_mmc.yaml: testing.swab_tme: unknown field"]
    found = problems(one_site_mmc, "testing.swab_time={dist: gamma, mean_s: 3}")
    assert found == [
        "one_site_mmc.yaml: testing.swab_time: unknown dist 'gamma'; expected 'exponential', 'deterministic', "
        "'lognormal', 'empirical'"
    ]


def test_shares_must_add_up(one_site_mmc):
    """Home-mode shares that do not add up to 1 are refused with their sum."""
    found = problems(one_site_mmc, "population.home_modes={walk: 0.5, car: 0.2}")
    assert found == ["one_site_mmc.yaml: population.home_modes: home mode shares must add up to 1 (they add up to 0.7)"]


def test_broken_yaml_gives_line_and_column():
    """A YAML syntax error is reported with its line and column."""
    with pytest.raises(ScenarioError) as info:
        parse_document("name: x\nkind: [mass_testing\n", "bad.yaml")
    assert str(info.value).startswith("bad.yaml: (yaml): line 3, column 1:")


def test_missing_fields_are_named():
    """A document missing required fields lists each of them."""
    with pytest.raises(ScenarioError) as info:
        scenario_from_document({"kind": "typhoon", "name": "t"}, file="t.yaml")
    found = {str(p) for p in info.value.problems}
    assert "t.yaml: clock: required field is missing" in found
    assert "t.yaml: hazard: required field is missing" in found


def test_unknown_scenario_name_lists_the_built_ins():
    """A name that is neither a file nor a built-in says so and lists the built-ins."""
    with pytest.raises(ScenarioError, match="not a built-in scenario"):
        load_scenario("no_such_scenario")


def test_set_on_a_missing_list_position_is_refused(one_site_mmc):
    """`--set` on a list position that does not exist is an error, not a silent no-op."""
    assert problems(one_site_mmc, "testing.sites[5].booths=3") == [
        "one_site_mmc.yaml: testing.sites[5].booths: --set: no such field or list position in the scenario"
    ]


def test_an_odd_mapping_key_naming_no_node_is_quoted_in_the_path():
    """A crowd origin keyed `:exit` (not a plain name) that names no node is reported at
    `demand.origins[':exit']`, the same path form the schema errors use."""
    doc = load_scenario("bund_new_year_2014").model_dump(mode="json")
    origins = doc["demand"]["origins"]
    first = next(iter(origins))
    origins[f":{first}"] = origins.pop(first)
    with pytest.raises(ScenarioError) as caught:
        scenario_from_document(doc, file="odd.yaml")
    assert f"odd.yaml: demand.origins[':{first}']: unknown node ':{first}' (not in graph 'bund')" in [
        str(p) for p in caught.value.problems]


def test_an_alias_bomb_is_refused_before_anything_is_built(tmp_path, monkeypatch):
    """A 400-byte document whose aliases would expand to a billion values is refused from its events alone (the
    loader that builds objects is never called), naming the line where the count passes the limit."""
    import yaml

    import scenarios.loading

    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghij"):
        prev = "abcdefghij"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def never(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the document was built")

    monkeypatch.setattr(yaml, "load", never)
    with pytest.raises(ScenarioError) as caught:
        scenarios.loading.load_scenario(path)
    (problem,) = caught.value.problems
    # Expanded sizes: a = 1 + 9 = 10, b = 1 + 9 x 10 = 91, c = 820, d = 7,381 (lines 1-4; 8,302 in all); line 5's
    # e passes 60,000 at its eighth alias (8,302 + 1 + 7 x 7,381 = 59,970; the eighth makes 67,351), column 29.
    assert str(problem) == ("bomb.yaml: (yaml): line 5, column 29: more than 60,000 values (aliases counted as "
                            "written out); a scenario is smaller")


def test_aliases_within_the_limit_still_load():
    """The built-in typhoon repeats a tunnel's demand profile with an alias; it loads, both directions alike."""
    tunnels = load_scenario("huangpu_typhoon").tunnels
    assert any(t.demand_ab == t.demand_ba for t in tunnels.values())


def test_a_document_past_the_size_limit_is_refused_unread(tmp_path):
    """A file over 2 MiB is refused by its size, before it is parsed."""
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\n" + "# padding\n" * 250_000, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert [str(p) for p in caught.value.problems] == ["huge.yaml: larger than 2 MiB"]
