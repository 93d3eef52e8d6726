"""The HTML report trusts nothing from files: sidecars are validated, every value is escaped,
and a Content-Security-Policy forbids scripts. Its trend plot has dated ticks."""

import copy
import datetime as dt
import json
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from myotwitch.dsp import DetectorConfig  # noqa: E402
from myotwitch.host.analysis import analyze_file  # noqa: E402
from myotwitch.host.analyze_cmd import _load_summary  # noqa: E402
from myotwitch.host.cli import main  # noqa: E402
from myotwitch.host.errors import FormatError  # noqa: E402
from myotwitch.host.paths import data_dir  # noqa: E402
from myotwitch.host.report import write_report  # noqa: E402

CSV = str(data_dir() / "examples" / "calf-30s.csv")
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def session():
    s = analyze_file(CSV, DetectorConfig())
    assert s["episodes"], "the example needs an episode for these tests"
    return s


def sidecar(tmp_path, s, name="night.summary.json"):
    p = tmp_path / name
    p.write_text(json.dumps(s))
    return p


@pytest.mark.parametrize("tamper, field", [
    (lambda s: s["episodes"][0].__setitem__("n_twitches", SCRIPT), "episodes[0].n_twitches"),
    (lambda s: s["stats"]["counts"].__setitem__("twitch", SCRIPT), "stats.counts.twitch"),
    (lambda s: s["stats"].__setitem__("twitches_per_hour", float("inf")), "stats.twitches_per_hour"),
    (lambda s: s["quality"].__setitem__("noise_floor_uv_rms", SCRIPT), "quality.noise_floor_uv_rms"),
    (lambda s: s["events"][0].__setitem__("kind", SCRIPT), "events[0].kind"),
    (lambda s: s["events"][0].__setitem__("channel", 7), "events[0].channel"),
    (lambda s: s.__setitem__("start", SCRIPT), "start"),
    (lambda s: s["stats"].__setitem__("twitches_per_channel", [1]), "stats.twitches_per_channel"),
    # a session of 31,700 years showed as 277777777.78 hours on one day of the history
    (lambda s: s["stats"].update(duration_s=1e12, valid_s=1e12), "stats.duration_s"),
    (lambda s: s["stats"].__setitem__("valid_s", s["stats"]["duration_s"] * 2), "stats.valid_s"),
])
def test_tampered_sidecars_are_refused_naming_the_field(tmp_path, session, tamper, field):
    s = copy.deepcopy(session)
    tamper(s)
    with pytest.raises(FormatError, match=re.escape(f"field '{field}'")):
        _load_summary(str(sidecar(tmp_path, s)))


def test_a_tampered_sidecar_cannot_put_a_script_in_the_report(tmp_path, session, capsys):
    s = copy.deepcopy(session)
    s["episodes"][0]["n_twitches"] = SCRIPT
    out = tmp_path / "r.html"
    rc = main(["analyze", str(sidecar(tmp_path, s)), "--report", str(out), "--no-index", "--no-progress"])
    assert rc == 1 and "episodes[0].n_twitches" in capsys.readouterr().err
    assert not out.exists() or "<script" not in out.read_text()


def test_text_from_files_is_escaped_everywhere_and_scripts_are_forbidden(tmp_path, session):
    a, b = copy.deepcopy(session), copy.deepcopy(session)
    a["channels"] = [SCRIPT, "\"'><img src=x onerror=alert(2)>"]
    a["start"], b["start"] = "2026-11-01T22:00:00", "2026-11-03T23:00:00"
    b["quality"]["warnings"] = [SCRIPT]
    b["advice"] = {"notice": SCRIPT, "items": [{"id": "x", "level": "info\" onmouseover=\"alert(3)", "section": SCRIPT,
                                              "text": SCRIPT, "why": SCRIPT}]}
    out = tmp_path / "r.html"
    write_report(str(out), [a, b])
    doc = out.read_text()
    assert "<script" not in doc.lower() and "<img src=x" not in doc and 'onmouseover="alert' not in doc
    assert "&lt;script&gt;" in doc
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', doc)
    assert csp and "default-src 'none'" in csp.group(1) and "script-src" not in csp.group(1)


def test_sessions_over_time_has_dated_ticks(session):
    from myotwitch.host.report import trend_figure

    rs = []
    for day in (1, 4, 9):
        s = copy.deepcopy(session)
        s["start"] = f"2026-11-{day:02d}T22:30:00"
        rs.append(s)
    fig = trend_figure(rs)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and not any(re.fullmatch(r"[\d.]+", t) and "." in t for t in labels), labels
    assert any(re.search(r"Nov|\b\d{1,2}\b|2026", t) for t in labels), labels
    undated = [copy.deepcopy(session) for _ in range(3)]
    fig = trend_figure(undated)
    locs = [v for v in fig.axes[0].get_xticks() if 0.5 <= v <= 3.5]
    assert locs and all(float(v).is_integer() for v in locs), locs


def test_every_plot_of_the_report_has_its_titles_as_alternative_text(tmp_path, session):
    """Every image was alt="plot" (screen readers, images off)."""
    a = copy.deepcopy(session)
    a["channels"] = ['calf "left"', "soleus"]  # (a title holding a quote stays inside the attribute)
    out = tmp_path / "r.html"
    write_report(str(out), [a])
    alts = re.findall(r'<img alt="([^"]*)" src="data:image/png', out.read_text())
    assert alts and "plot" not in alts and all(len(alt) > 5 for alt in alts)


def test_the_timeline_draws_each_channel_with_its_own_twitches():
    """One trace (channel 0) had carried every channel's markers."""
    from myotwitch.host.report import _signal_views

    r = analyze_file(str(data_dir() / "examples" / "calf-30s.csv"), DetectorConfig())
    assert len(r["channels"]) == 2 and {e["channel"] for e in r["events"] if e["kind"] == "twitch"} == {0, 1}
    fs, edges, lo, hi, snippets, _ = _signal_views(r)
    assert lo.shape == hi.shape == (2, len(edges) - 1)
    assert np.isfinite(hi).all() and (hi > lo).all()
    n_twitches = sum(e["kind"] == "twitch" for e in r["events"])
    assert len(snippets) == min(30, n_twitches)  # the clearest twitches of both channels


def test_each_unit_card_is_named_in_its_alternative_text(tmp_path, example_edf_analysis):
    """Eleven cards read "4 twitches: members (grey) and template" and the like, never saying
    which unit each is."""
    r = example_edf_analysis  # analyze_file(calf-10min.edf, DetectorConfig())
    out = tmp_path / "r.html"
    write_report(str(out), [r])
    alts = [a for a in re.findall(r'<img alt="([^"]*)"', out.read_text()) if "members (grey)" in a]
    recurring = [u["unit"] for u in r["units"] if u["count"] >= 3]
    assert len(alts) == len(recurring) >= 2 and len(set(alts)) == len(alts)
    assert [a.split(",")[0] for a in alts] == recurring


def test_the_timeline_draws_the_channels_the_analysis_used():
    """After `analyze --channels soleus`, the panel named soleus drew the file's first channel."""
    from myotwitch.host.report import _signal_views

    both = analyze_file(CSV, DetectorConfig())
    second = analyze_file(CSV, DetectorConfig(), channels=["1"])
    assert second["channels"] == both["channels"][1:]
    _, _, lo_all, hi_all, _, _ = _signal_views(both)
    _, _, lo_one, hi_one, _, _ = _signal_views(second)
    assert lo_one.shape[0] == 1
    np.testing.assert_array_equal(lo_one[0], lo_all[1])
    np.testing.assert_array_equal(hi_one[0], hi_all[1])


def test_a_batch_of_several_people_draws_a_line_each_and_says_whose_each_row_is(session, tmp_path):
    """Three participants' nights (69 files, P01-P03 in their EDF headers) had been drawn as one
    line in "Sessions over time" and listed without whose they were: one person's trend to the
    eye. Each person now has a line of their own and the table a person column."""
    import datetime as dt

    from myotwitch.host.edf import EdfWriter, Subject
    from myotwitch.host.report import _trend_html, trend_figure

    rs, who = [], []
    for day in range(1, 7):
        person = "P01" if day % 2 else "P02"
        path = tmp_path / f"{person}_{day}.edf"
        start = dt.datetime(2026, 11, day, 23, 0)
        with EdfWriter(path, fs=500.0, labels=["calf"], uv_per_count=0.125, start=start,
                       subject=Subject(code=person)) as w:
            w.write(np.zeros((1, 500), np.float32))
        s = copy.deepcopy(session)
        s["file"], s["start"] = str(path), start.isoformat()
        rs.append(s)
        who.append(person)
    page = _trend_html(rs, {r["file"]: r["file"].rsplit("/", 1)[-1] for r in rs})
    assert "<th>person</th>" in page and page.count("<td>P01</td>") == 3 and page.count("<td>P02</td>") == 3
    fig = trend_figure(rs, who)
    lines = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata())]
    assert sorted(ln.get_label() for ln in lines) == ["P01", "P02"] and all(len(ln.get_xdata()) == 3 for ln in lines)
    one = _trend_html(rs[::2], {r["file"]: "x" for r in rs})  # (one person: no column)
    assert "<th>person</th>" not in one


def test_files_under_a_minute_are_no_point_on_the_trend_and_are_said_to_be_left_out(session):
    """Three 8 s files among 3-minute nights (0, 0 and 960/h from 2 twitches) had been points of
    the "Sessions over time" line, its lowest and a high one; history leaves files under a minute
    out, and so does the plot now, saying how many."""
    from myotwitch.host.report import trend_figure

    rs = []
    for day, secs, rate in ((1, 180.0, 400.0), (2, 8.0, 960.0), (3, 180.0, 500.0), (4, 8.0, 0.0)):
        s = copy.deepcopy(session)
        s["start"] = f"2026-11-{day:02d}T23:00:00"
        s["stats"] = dict(s["stats"], duration_s=secs, valid_s=secs, twitches_per_hour=rate)
        rs.append(s)
    fig = trend_figure(rs)
    [line] = fig.axes[0].get_lines()
    y = np.asarray(line.get_ydata(), float)
    assert list(y[~np.isnan(y)]) == [400.0, 500.0]
    assert fig.axes[0].get_title() == "Sessions over time (2 under 1 min of data not shown)"
    assert fig.axes[0].get_ylim()[0] == 0.0


def test_the_days_of_a_trend_over_two_months_carry_their_month(session):
    """Nights from 5 October to 3 November had ticks "08", "15", "22", "Nov" over an offset
    "2026-Nov": October's days read as November's. Each day tick now says its month."""
    from myotwitch.host.report import trend_figure

    rs = []
    for day in range(29):
        s = copy.deepcopy(session)
        s["start"] = (dt.datetime(2026, 10, 5, 23) + dt.timedelta(days=day)).isoformat()
        rs.append(s)
    fig = trend_figure(rs)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert any(t.endswith(" Oct") for t in labels), labels
    assert all(not re.fullmatch(r"\d+", t) for t in labels), labels
    assert "Nov" not in ax.xaxis.get_major_formatter().get_offset(), ax.xaxis.get_major_formatter().get_offset()
