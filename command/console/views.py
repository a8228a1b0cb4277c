"""What the pages show, computed once and cached: parsed scenarios, simulation runs, the map.

Simulation runs are cached by their inputs (the scenario document, the plan's JSON and the seed), so a rerun
or a time-slider move never simulates again; only a new plan or a new scenario does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pydeck as pdk
import streamlit as st

from command.console import basemap
from command.kinds import kind_of, simulate
from command.wording import local_name, place_names
from scenarios import Plan, Scenario, scenario_graph
from scenarios.defaults import default_plan
from scenarios.loading import scenario_from_document
from scenarios.plan import AssignStaff, HoldArea, MeterFlow, OneWay, TradeOffPoint


@st.cache_data(show_spinner=False, max_entries=64)
def scenario_from_json(document: str) -> Scenario:
    return scenario_from_document(json.loads(document), file="incident")


@dataclass(frozen=True)
class SimView:
    """A run as the pages need it: KPIs, series (t in minutes), and the event log."""

    kpis: dict[str, float]
    series: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]
    events: tuple[tuple[float, str, str], ...]
    map_layers: tuple[str, ...] = ()  # the kind's per-node series the map colours, preferred first
    chart_series: tuple[str, ...] = ()  # the kind's series a chart opens on, preferred first


@st.cache_data(show_spinner=False, max_entries=32)
def run(document: str, plan_json: str | None, seed: int) -> SimView:
    """Simulate a scenario under a plan (its default plan when None); cached by the three inputs."""
    scenario = scenario_from_json(document)
    plan = Plan.model_validate_json(plan_json) if plan_json else default_plan(scenario)
    result = simulate(scenario, plan, seed=seed)
    series = {k: (tuple(x / 60 for x in t), v) for k, (t, v) in result.series.items()}
    spec = kind_of(scenario).spec
    return SimView(dict(result.kpis), series, tuple((e.t_s, e.kind, e.text) for e in result.events),
                   spec.map_layers, spec.chart_series)  # fmt: skip


def value_at(series: tuple[tuple[float, ...], tuple[float, ...]], minute: float) -> float:
    """The last sample at or before `minute` (0 before the first)."""
    times, values = series
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] <= minute:
            lo = mid + 1
        else:
            hi = mid
    return float(values[lo - 1]) if lo else 0.0


def _colour(value: float, top: float) -> list[int]:
    """Green (none) through amber to red (the most at any time), opaque."""
    x = 0.0 if top <= 0 else max(0.0, min(1.0, value / top))
    if x < 0.5:
        return [int(40 + 430 * x), 170, 60, 230]
    return [235, int(170 - 280 * (x - 0.5)), 50, 230]




#: Level of service by density (persons/m², Fruin's walkway levels A-F), then the crowd-safety levels
#: (4 warning, 5 critical): (upper bound, label, colour).
DENSITY_LEVELS = (
    (0.31, "A", [46, 160, 67, 230]), (0.43, "B", [110, 180, 60, 230]), (0.72, "C", [190, 200, 50, 230]),
    (1.08, "D", [240, 200, 40, 230]), (2.17, "E", [245, 150, 40, 230]), (4.0, "F", [230, 80, 40, 230]),
    (5.0, "F+", [190, 20, 30, 240]), (float("inf"), "F++", [120, 0, 120, 250]),
)  # fmt: skip

#: What the two levels above F say, by language.
DENSITY_BEYOND = {"F+": ("F，超过 4 人/m²（预警）", "F, over 4/m² (warning)"),
                  "F++": ("F，超过 5 人/m²（危险）", "F, over 5/m² (critical)")}  # fmt: skip


def density_level(value: float) -> tuple[str, list[int]]:
    """The level-of-service label and colour of a density."""
    return next((label, colour) for bound, label, colour in DENSITY_LEVELS if value < bound)


def map_metric(view: SimView) -> str | None:
    """Which per-node series (`<metric>:<node>`) the map shows for this run: the first of its kind's map layers
    the run recorded."""
    return next((m for m in view.map_layers if any(n.startswith(f"{m}:") for n in view.series)), None)


def node_values(view: SimView, minute: float) -> tuple[dict[str, float], float]:
    """Per-node state at a time (crowd density, people queuing at a test site, riders waiting), and the run's
    maximum for the colour scale."""
    values: dict[str, float] = {}
    top = 0.0
    metric = map_metric(view)
    for name, series in view.series.items():
        if metric is not None and name.startswith(f"{metric}:"):
            node = name.split(":", 1)[1]
            values[node] = value_at(series, minute)
            top = max(top, max(series[1], default=0.0))
    return values, top


#: The tooltip every pickable object of the map shows: one field, filled in per object, so that no object shows
#: a field another layer has (deck.gl prints a missing field's name in braces).
TOOLTIP = {"text": "{tip}"}


#: The colour each kind of resource is drawn in on the map, and shown in the legend.
RESOURCE_COLOURS: dict[str, list[int]] = {"team": [30, 100, 210, 240], "bus": [245, 140, 0, 240],
                                          "escort": [140, 60, 190, 240]}  # fmt: skip


def deck(scenario: Scenario, values: dict[str, float], top: float, *, metric: str | None = None,
         words: dict[str, str] | None = None, lang: str = "en", resources: tuple[dict[str, Any], ...] = ()) -> pdk.Deck:
    """The incident's map, drawn on this machine (no tiles, no base map fetched from anywhere): the base layer
    (`command.console.basemap`: the OpenStreetMap extract the graph was read from, else the graph's own edges),
    nodes coloured by state (densities by level of service on a fixed scale; counts relative to the run's maximum),
    the resources where they are (`resources`: rows with lon, lat, what and tip, from `resource_rows`), then labels
    and a scale bar on top.

    `words` translates the tooltip's terms (edge modes and node kinds; a term not in it is shown as is), `lang`
    says the values' units and the labels' language.
    `map_provider=None` with pydeck's own default style is what asks Streamlit for no base map at all
    (`map_style=None` would make Streamlit fall back to its default style, fetched from a CDN)."""
    words = words or {}
    graph = scenario_graph(scenario)
    osm = basemap.osm_file(scenario.graph)
    base = basemap.osm_base(str(osm), lang) if osm is not None else basemap.graph_base(graph, words, lang)
    points = []
    for node, data in graph.nodes(data=True):
        value = values.get(node)
        kind = str(data.get("kind", ""))
        if osm is not None and value is None and not data.get("name") and kind == "junction":
            continue  # the extract's own road junctions: the base layer draws their roads
        shown = "" if value is None else f" · {_label(value, metric, lang)}"
        points.append({
            "lon": data["lon"], "lat": data["lat"], "node": node,
            "tip": f"{local_name(data, lang) or node} ({node})\n{words.get(kind, kind)}{shown}",
            "radius": 8 if value is None else 14 + 60 * (0 if top <= 0 else value / top),
            "colour": [150, 150, 160, 160] if value is None else (
                density_level(value)[1] if metric == "density" else _colour(value, top)),
        })  # fmt: skip
    # Frame the places that carry state (the test sites, say) when there are any, else the whole graph.
    focus = [p for p in points if p["node"] in values] or points
    lons = [p["lon"] for p in focus]
    lats = [p["lat"] for p in focus]
    span = max(max(lons) - min(lons), max(lats) - min(lats), 2e-3) * 1.3
    zoom = max(8.0, min(17.0, math.log2(400 / span)))  # the framed span fits the map's height (460 px)
    centre = ((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)
    view = pdk.ViewState(longitude=centre[0], latitude=centre[1], zoom=zoom)
    half = span / 2
    bar = basemap.scale_bar(centre[0] - half, centre[1] - half / 1.6, centre[0] + half, centre[1] + half / 1.6)
    layers = [
        *basemap.layers(base),
        pdk.Layer("ScatterplotLayer", points, get_position=["lon", "lat"], get_fill_color="colour",
                  get_radius="radius", radius_min_pixels=2, radius_max_pixels=30, pickable=True),
    ]  # fmt: skip
    if resources:
        layers.append(pdk.Layer("ScatterplotLayer", list(resources), get_position=["lon", "lat"],
                                get_fill_color="colour", get_line_color=[255, 255, 255, 255], stroked=True,
                                line_width_min_pixels=2, get_radius=12, radius_min_pixels=8, radius_max_pixels=16,
                                pickable=True))  # fmt: skip
    layers += basemap.labels_on_top(basemap.declutter(base.labels, zoom=zoom, latitude=centre[1]), bar)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, tooltip=TOOLTIP)


def density_label(value: float, lang: str = "en") -> str:
    """A density with its level of service, in `lang`."""
    level = density_level(value)[0]
    pair = DENSITY_BEYOND.get(level)
    said = level if pair is None else pair[0 if lang == "zh" else 1]
    return f"{value:.2f} 人/m²（服务水平 {said}）" if lang == "zh" else f"{value:.2f} /m² (LOS {said})"


def _label(value: float, metric: str | None, lang: str) -> str:
    return density_label(value, lang) if metric == "density" else f"{value:,.0f}"


def default_series(names: list[str], preferred: tuple[str, ...] = ()) -> int:
    """The index of the series a KPI chart opens on: the first of the kind's chart series there is; else 0."""
    return next((names.index(n) for n in preferred if n in names), 0)


def peak_place(view: SimView) -> str | None:
    """Where and when a crowd run's density peaked, as the simulation logged it (None for other kinds)."""
    return next((text for _, kind, text in reversed(view.events) if kind == "peak_density"), None)


def kpi_frame(base: SimView, planned: SimView | None, name: str, labels: tuple[str, str]) -> Any:
    """A table of one series over time (minutes), default plan against the plan in effect."""
    import pandas as pd

    frames = {labels[0]: pd.Series(base.series[name][1], index=base.series[name][0])}
    if planned is not None and name in planned.series:
        frames[labels[1]] = pd.Series(planned.series[name][1], index=planned.series[name][0])
    return pd.DataFrame(frames)


#: The colours of a chart's series, by their place (the default plan first, then the plan): the same series has
#: the same colour in every language (a colour chosen by the label would follow its alphabetical order).
SERIES_COLOURS = ("#7f7f7f", "#1f77b4", "#d62728", "#2ca02c")


def series_chart(frame: Any, labels: tuple[str, ...], *, x: str, y: str, at_min: float | None = None) -> Any:
    """A line per column of `frame` (minutes as its index), coloured by the column's place in `labels`, with a
    rule at `at_min` (the time the page shows)."""
    import altair as alt

    long = frame.rename_axis("minute").reset_index().melt("minute", var_name="series", value_name="value")
    colours = alt.Scale(domain=list(labels), range=list(SERIES_COLOURS[: len(labels)]))
    lines = alt.Chart(long).mark_line().encode(
        x=alt.X("minute:Q", title=x), y=alt.Y("value:Q", title=y),
        color=alt.Color("series:N", scale=colours, title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("series:N", title=" "), alt.Tooltip("minute:Q", title=x),
                 alt.Tooltip("value:Q", title=y, format=",.2f")])  # fmt: skip
    if at_min is None:
        return lines
    rule = alt.Chart(alt.Data(values=[{"minute": at_min}])).mark_rule(color="#444", strokeDash=[4, 3]).encode(
        x="minute:Q")  # fmt: skip
    return lines + rule


@dataclass(frozen=True)
class ClearedPeriodPrice:
    """What one more cleared lane-period buys, read off a trade-off set: the slope from the chosen schedule to
    the nearest one that clears the same tunnel directions longer (or, when none does, shorter)."""

    vehicle_h: float  # more vehicle-hours of delay per lane-period
    rider_min: float  # fewer rider-minutes waiting per lane-period (negative: more)
    period_min: float


def cleared_period_price(points: tuple[TradeOffPoint, ...]) -> ClearedPeriodPrice | None:
    """The marginal price of a cleared period; None without a chosen point, or without another that clears the
    same tunnel directions for more or fewer periods (a slope across different tunnels would price the tunnel
    choice, not the period)."""
    chosen = next((p for p in points if p.chosen), None)
    if chosen is None:
        return None
    alike = [p for p in points if p.cleared_ways == chosen.cleared_ways]
    more = [p for p in alike if p.cleared_periods > chosen.cleared_periods]
    less = [p for p in alike if p.cleared_periods < chosen.cleared_periods]
    if more:
        other = min(more, key=lambda p: p.cleared_periods)
    elif less:
        other = max(less, key=lambda p: p.cleared_periods)
    else:
        return None
    step = other.cleared_periods - chosen.cleared_periods
    return ClearedPeriodPrice(vehicle_h=(other.vehicle_h - chosen.vehicle_h) / step,
                              rider_min=60 * (chosen.rider_wait_h - other.rider_wait_h) / step,
                              period_min=chosen.period_s / 60)  # fmt: skip


@dataclass(frozen=True)
class TradeStep:
    """From the chosen schedule to the nearest one of the set with less car delay: what it saves and costs."""

    vehicle_weight: float  # the car-delay weight that schedule was optimised at
    cleared_periods: int  # what it clears
    cleared_ways: tuple[str, ...]
    vehicle_h: float  # fewer vehicle-hours of delay
    rider_min: float  # more rider-minutes waiting (negative: fewer)
    stranded: float  # more riders stranded (negative: fewer)


def step_to_less_car_delay(points: tuple[TradeOffPoint, ...]) -> TradeStep | None:
    """The step to the nearest schedule with less car delay; None without a chosen point or such a schedule."""
    chosen = next((p for p in points if p.chosen), None)
    fewer = [p for p in points if chosen is not None and p.vehicle_h < chosen.vehicle_h]
    if chosen is None or not fewer:
        return None
    other = max(fewer, key=lambda p: p.vehicle_h)
    return TradeStep(vehicle_weight=other.vehicle_weight, cleared_periods=other.cleared_periods,
                     cleared_ways=other.cleared_ways, vehicle_h=chosen.vehicle_h - other.vehicle_h,
                     rider_min=60 * (other.rider_wait_h - chosen.rider_wait_h),
                     stranded=other.riders_stranded - chosen.riders_stranded)  # fmt: skip


def trade_off_chart(points: tuple[TradeOffPoint, ...], text: dict[str, str]) -> Any:
    """Rider-hours waiting against vehicle-hours of delay, one point per car-delay weight, the chosen one marked.
    `text` holds the labels: x, y, chosen, other, kind, weight, cleared, stranded, ways."""
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame([{"vehicle_h": round(p.vehicle_h, 1), "rider_wait_h": round(p.rider_wait_h, 1),
                           "weight": p.vehicle_weight, "cleared": p.cleared_periods, "ways": ", ".join(p.cleared_ways),
                           "stranded": round(p.riders_stranded), "chosen": p.chosen,
                           "kind": text["chosen"] if p.chosen else text["other"]}
                          for p in sorted(points, key=lambda p: p.vehicle_h)])  # fmt: skip
    x = alt.X("vehicle_h:Q", title=text["x"])
    y = alt.Y("rider_wait_h:Q", title=text["y"])
    fields = {"weight:Q": "weight", "cleared:Q": "cleared", "ways:N": "ways", "vehicle_h:Q": "x",
              "rider_wait_h:Q": "y", "stranded:Q": "stranded"}  # fmt: skip
    tooltip = [alt.Tooltip(field, title=text[label]) for field, label in fields.items()]
    kinds = alt.Scale(domain=[text["chosen"], text["other"]], range=["#d62728", "#7f7f7f"])
    line = alt.Chart(frame).mark_line(color="#7f7f7f").encode(x=x, y=y)
    dots = alt.Chart(frame).mark_point(filled=True).encode(
        x=x, y=y, tooltip=tooltip, color=alt.Color("kind:N", scale=kinds, title=text["kind"]),
        size=alt.condition("datum.chosen", alt.value(220), alt.value(70)))  # fmt: skip
    label = alt.Chart(frame).transform_filter("datum.chosen").mark_text(dx=10, align="left", color="#d62728")
    return line + dots + label.encode(x=x, y=y, text="kind:N")


# ------------------------------------------------------------------------------------------ crowd controls


@dataclass(frozen=True)
class MeterSpell:
    """One entrance metered without a break: from, until, and the rates it steps through (people per minute)."""

    node: str
    from_s: float
    until_s: float | None  # None: to the end of the plan
    rates: tuple[float, ...]

    @property
    def low(self) -> float:
        return min(self.rates)

    @property
    def high(self) -> float:
        return max(self.rates)


def meter_spells(plan: Plan, kind: type[MeterFlow] | type[HoldArea] = MeterFlow) -> list[MeterSpell]:
    """A plan's metering (or, with `kind=HoldArea`, its holds in place: the rate is who may leave), one spell per
    place and unbroken stretch (an action that starts when the one before it at the same node ends continues its
    spell), in order of start and node."""
    open_: dict[str, MeterSpell] = {}
    done: list[MeterSpell] = []
    for a in sorted((a for a in plan.actions if isinstance(a, kind)), key=lambda a: (a.at_s, a.node)):
        spell = open_.get(a.node)
        if spell is not None and spell.until_s is not None and abs(spell.until_s - a.at_s) < 1e-6:
            open_[a.node] = MeterSpell(a.node, spell.from_s, a.until_s, (*spell.rates, a.rate_per_min))
            continue
        if spell is not None:
            done.append(spell)
        open_[a.node] = MeterSpell(a.node, a.at_s, a.until_s, (a.rate_per_min,))
    return sorted([*done, *open_.values()], key=lambda m: (m.from_s, m.node))


def one_ways(plan: Plan) -> list[OneWay]:
    """A plan's one-way walkways (stairs, mostly), in order of start."""
    return sorted((a for a in plan.actions if isinstance(a, OneWay)), key=lambda a: (a.at_s, a.u, a.v))


def staff_posts(plan: Plan) -> list[AssignStaff]:
    """A plan's staff posts, in order of pool, start and post."""
    return sorted((a for a in plan.actions if isinstance(a, AssignStaff)), key=lambda a: (a.pool, a.at_s, a.to))


def most_on_post(posts: list[AssignStaff]) -> dict[str, int]:
    """Per pool, the most of its people on post at any one time."""
    most: dict[str, int] = {}
    for a in posts:
        on = sum(b.count for b in posts
                 if b.pool == a.pool and b.at_s <= a.at_s and (b.until_s is None or b.until_s > a.at_s))  # fmt: skip
        most[a.pool] = max(most.get(a.pool, 0), on)
    return most


__all__ = [
    "ClearedPeriodPrice",
    "MeterSpell",
    "SimView",
    "TradeStep",
    "cleared_period_price",
    "deck",
    "default_series",
    "density_label",
    "kpi_frame",
    "local_name",
    "meter_spells",
    "most_on_post",
    "node_values",
    "one_ways",
    "peak_place",
    "place_names",
    "run",
    "scenario_from_json",
    "series_chart",
    "staff_posts",
    "step_to_less_car_delay",
    "trade_off_chart",
    "value_at",
]
