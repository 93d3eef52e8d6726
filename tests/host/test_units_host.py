"""Units in the outputs (JSON, CSV, report), across sessions (the registry), and in the advice."""

import csv
import datetime as dt
import json

import numpy as np
import pytest

from myotwitch.dsp.synth import Source, UnitSynthSpec, source_waveform, synthesize_units
from myotwitch.host.advice import compute_metrics, evaluate, load_rules
from myotwitch.host.cli import main
from myotwitch.host.csvio import write_csv
from myotwitch.host.index import SessionIndex, data_dir
from myotwitch.host.unit_registry import UnitRegistry, attach_sightings, similarity

RULES = load_rules()
NOW = dt.datetime(2026, 11, 29, 12, 0)
BI = Source((1.0, 0.0, 0.0), 12.0, 200.0, 20.0)
TRI = Source((0.0, 1.0, 0.0), 16.0, 450.0, 12.0)
POLY = Source((0.2, 0.3, 1.0), 10.0, 300.0, 15.0)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    d = tmp_path_factory.mktemp("units")
    x, truth = synthesize_units(UnitSynthSpec((BI, TRI), fs=1000.0, duration_s=150.0, seed=1))
    path = d / "two_units.csv"
    write_csv(path, x, 1000.0, ["calf"])
    out = {k: d / f"out.{k}" for k in ("json", "csv", "html")}
    assert main(["analyze", str(path), "--json", str(out["json"]), "--csv", str(out["csv"]), "--report",
                 str(out["html"]), "--no-progress", "--no-index"]) == 0
    return truth, out


def test_units_are_in_the_json_with_their_measures(analysed):
    truth, out = analysed
    r = json.loads(out["json"].read_text())
    units = [u for u in r["units"] if u["count"] >= 3]
    assert len(units) == 2
    for u in units:
        for key in ("channel", "count", "rate_per_hour", "median_peak_to_peak_uv", "duration_ms", "phases", "turns",
                    "isi_median_s", "isi_cv", "first_seen_s", "last_seen_s", "template", "template_fs", "snippets"):
            assert u[key] is not None, key
    sizes = sorted(u["median_peak_to_peak_uv"] for u in units)
    assert sizes[0] == pytest.approx(BI.ptp_uv, rel=0.2) and sizes[1] == pytest.approx(TRI.ptp_uv, rel=0.2)
    twitches = [e for e in r["events"] if e["kind"] == "twitch"]
    assert sum(u["count"] for u in r["units"]) == sum(e["unit"] is not None for e in twitches)
    assert sum(e["unit"] is not None for e in twitches) >= 0.95 * len(truth.twitches)
    assert {e["unit"] for e in r["events"] if e["kind"] != "twitch"} <= {None}


def test_csv_has_a_unit_column(analysed):
    _, out = analysed
    with out["csv"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and "unit" in rows[0]
    assert {row["unit"] for row in rows if row["kind"] == "twitch"} >= {"U1", "U2"}


def test_report_has_a_section_per_unit(analysed):
    _, out = analysed
    text = out["html"].read_text()
    assert "Recurring sources (units)" in text and "not a diagnosis" in text
    assert "U1 on calf" in text and "U2 on calf" in text
    assert "phases / turns" in text


# -- across sessions -----------------------------------------------------------------------------
def summary(file, start, sources, channels=("calf",), fs=1000.0, scale=1.0):
    units = []
    for i, s in enumerate(sources):
        w = source_waveform(s, fs) * s.ptp_uv * scale
        units.append({"unit": f"U{i + 1}", "channel": 0, "count": 10, "rate_per_hour": 40.0,
                      "template": [w.tolist()] + [(0.3 * w).tolist()] * (len(channels) - 1), "template_fs": fs})
    return {"file": file, "start": start.isoformat(), "channels": list(channels), "units": units}


def test_template_similarity_is_rate_independent():
    from myotwitch.host.unit_registry import resample_template

    a = resample_template([source_waveform(TRI, 500.0).tolist()], 500.0)
    b = resample_template([source_waveform(TRI, 2000.0, shift_s=0.0011).tolist()], 2000.0)
    c = resample_template([source_waveform(BI, 2000.0).tolist()], 2000.0)
    assert similarity(a, b)[0] > 0.95
    assert similarity(a, c)[0] < 0.9  # below the registry's match threshold


def test_a_unit_seen_again_keeps_its_lasting_name(tmp_path):
    with UnitRegistry(tmp_path / "db.sqlite") as reg:
        day1 = reg.register(summary("a.edf", NOW, [BI, TRI]))
        # next week, recorded at another rate, a bit smaller, a new source and the old ones in another order
        day8 = reg.register(summary("b.edf", NOW + dt.timedelta(days=7), [POLY, TRI, BI], fs=2000.0, scale=0.85))
        other_site = reg.register(summary("c.edf", NOW, [BI], channels=("tibialis",)))
        again = reg.register(summary("b.edf", NOW + dt.timedelta(days=7), [POLY, TRI, BI], fs=2000.0))
    assert day8["U3"] == day1["U1"] and day8["U2"] == day1["U2"]
    assert day8["U1"] not in day1.values()
    assert other_site["U1"] not in set(day1.values()) | set(day8.values())  # other channel names: not compared
    assert again == day8  # re-analysing a file replaces its sightings


def new_source_sessions(span_days):
    """Two sources from the start; two more appear after a week and recur."""
    rows = []
    for day in range(0, span_days, 2):
        units = [{"known_as": "P1", "count": 30}, {"known_as": "P2", "count": 12}]
        if day >= 8:
            units += [{"known_as": "P3", "count": 9}, {"known_as": "P4", "count": 5}]
        start = NOW - dt.timedelta(days=span_days - 1 - day)
        rows.append({"file": f"s{day}", "start": start, "duration_s": 8 * 3600, "valid_s": 8 * 3600,
                     "twitches": 47, "twitches_per_hour": 47 / 8, "episodes": 1, "per_channel": [47],
                     "channels": ["calf"], "units": units})
    return rows


def test_new_units_over_two_weeks_fire_the_spreading_evidence():
    m = compute_metrics(new_source_sessions(20), [], RULES, NOW)
    assert m["units_new"] == 2 and m["units_known"] == 2 and m["units_span_days"] >= 14
    assert m["spreading"] and "2 new recurring twitch sources" in m["spreading_detail"]
    items = {i.id: i for i in evaluate(RULES, m)}
    assert "info-new-units" in items and "consult-spreading" in items
    assert "P3 first recorded" in items["info-new-units"].why and "twitches in" in items["info-new-units"].why


def test_new_units_over_less_than_two_weeks_are_a_near_miss():
    m = compute_metrics(new_source_sessions(12), [], RULES, NOW)
    assert m["units_new"] == 2 and m["units_span_days"] < 14
    assert not m["spreading"]
    assert "info-new-units" not in {i.id for i in evaluate(RULES, m)}
    # a new source seen in a single session is not enough either
    once = new_source_sessions(20)
    for s in once[:-1]:
        s["units"] = [u for u in s["units"] if u["known_as"] not in ("P3", "P4")]
    assert compute_metrics(once, [], RULES, NOW)["units_new"] == 0


def test_registered_sightings_reach_the_advice_through_the_index(tmp_path):
    path = data_dir() / "myotwitch.sqlite"
    with UnitRegistry(path) as reg:
        reg.register(summary(str(tmp_path / "a.edf"), NOW, [BI]))
    with SessionIndex(path) as idx:
        idx.add_summary({"file": str(tmp_path / "a.edf"), "start": NOW.isoformat(), "channels": ["calf"],
                         "stats": {"duration_s": 3600, "valid_s": 3600, "counts": {"twitch": 10},
                                   "twitches_per_hour": 10.0, "episodes": 1, "twitches_per_channel": [10]}})
        rows = attach_sightings(idx.sessions(), idx.path)
    assert rows[0]["units"] == [{"known_as": "P1", "count": 10}]
    assert np.isfinite(rows[0]["twitches_per_hour"])


# -- the simulator's scene ------------------------------------------------------------------------
def test_simulator_models_crosstalk_and_recurring_sources():
    from myotwitch.dsp import Pipeline
    from myotwitch.dsp.synth import SourceTwitch
    from myotwitch.host.sources.sim import parse_sim_options

    spec, _, _ = parse_sim_options({"rate": "1000", "channels": "2", "units": "3", "crosstalk": "0.5",
                                    "twitch_rate": "0", "seed": "6"})
    from myotwitch.host.simulator import VirtualDevice

    stream = VirtualDevice(spec).synth
    pipe = Pipeline(1000.0, 2)
    events = []
    for _ in range(60):
        events += pipe.process(stream.read(5000))
    events += pipe.flush()
    twitches = [e for e in events if e.kind == "twitch"]
    truth = [t for t in stream.truth.twitches if isinstance(t, SourceTwitch)]
    assert len(truth) > 50
    assert abs(len(twitches) - len(truth)) <= 0.02 * len(truth)
    hits = sum(len(e.hit_channels) for e in twitches)
    assert hits > 1.5 * len(twitches)  # most firings reach both channels


@pytest.mark.parametrize("opts, message", [({"units": "9"}, "units=9 is outside 0 to 8"),
                                           ({"crosstalk": "1.5"}, "crosstalk=1.5 is outside 0 to 0.95")])
def test_simulator_scene_options_are_checked(opts, message):
    from myotwitch.host.errors import UsageError
    from myotwitch.host.sources.sim import parse_sim_options

    with pytest.raises(UsageError, match=message):
        parse_sim_options(opts)


def test_the_report_and_the_text_count_the_same_recurring_sources_and_name_those_not_drawn():
    """The text counted units of 3 twitches or more, the report drew those of 2 or more, and
    cut at 12 cards without a word."""
    from myotwitch.host.report_units import MAX_UNITS, recurring_units, units_html

    counts = [2, 40, 3, 9, 2, 5, 7, 3, 11, 4, 6, 8, 3, 12, 3, 20]
    units = [{"unit": f"U{k + 1}", "count": n, "channel": 0, "onsets_s": [1.0] * n} for k, n in enumerate(counts)]
    r = {"units": units, "channels": ["calf"], "stats": {"duration_s": 600.0}}
    page = units_html(r)
    recurring = recurring_units(r)  # (what the text counts)
    assert [u["count"] for u in recurring] == [n for n in counts if n >= 3]
    assert page.count("<h4>") == MAX_UNITS < len(recurring) == 14
    assert "2 more recurring sources with fewer twitches, not drawn here: U13 (3), U15 (3)" in page
    assert "<h4>U1 " not in page and "<h4>U5 " not in page  # 2 twitches: not a recurring source
