"""The analysis report's plots show the numbers the summary states: the rate bins are per hour
searched, and a CSV read with --units is drawn in those units."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from myotwitch.host import report  # noqa: E402
from myotwitch.host.cli import main  # noqa: E402


def session(duration_s, onsets, gaps=(), unsearched=None):
    out = {"stats": {"duration_s": duration_s},
           "events": [{"kind": "twitch", "onset_s": t} for t in onsets] + [{"kind": "artifact", "onset_s": 1.0}],
           "gaps": [{"onset_s": a, "duration_s": d} for a, d in gaps]}
    if unsearched is not None:
        out["unsearched"] = [{"onset_s": a, "duration_s": d} for a, d in unsearched]
    return out


def rates(r):
    counts, hours, width = report.rate_bins(r)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hours > 0, counts / hours, np.nan), width


def test_a_recording_shorter_than_a_bin_shows_its_own_rate():
    """8 twitches in 20 s is 1440 an hour, as the summary says; the bar read 480."""
    r, width = rates(session(20.0, np.linspace(1, 19, 8)))
    assert width == 1 and r == pytest.approx([1440.0])


def test_the_last_partial_bin_is_per_hour_of_its_data():
    """65 minutes in 10-minute bins: the last holds 5 minutes, and 5 twitches there are 60/h."""
    onsets = [*np.linspace(30, 590, 10), *np.linspace(3610, 3890, 5)]
    r, width = rates(session(65 * 60.0, onsets))
    assert width == 10 and len(r) == 7
    assert r[0] == pytest.approx(60.0) and r[-1] == pytest.approx(60.0)
    assert np.all(r[1:-1] == 0)


def test_gaps_leave_a_bin_with_its_data_time_only():
    r, _ = rates(session(120.0, [5, 10, 70], gaps=[(30.0, 15.0), (60.0, 60.0)]))
    assert r[0] == pytest.approx(2 / (45 / 3600))
    assert np.isnan(r[1])  # (the whole second minute is a gap: no bar, not a rate of 0)


def test_a_bin_is_per_hour_its_detector_searched_as_the_session_is(tmp_path, monkeypatch):
    """The session's rate is over the seconds searched (not the start-up, nor the settling after
    each gap); a bin's had been over all its seconds of data, so the bins of a link that drops out
    often read low against the rate the summary states. A real analysis of such a file: its one
    bin shows the summary's rate; a summary from before the spans were kept keeps its seconds."""
    rng = np.random.default_rng(3)
    fs, n = 1000, 50_000
    x = rng.normal(0, 5, n)
    for k in range(2000, n - 1000, 2000):  # (a 0.2 s outage every 2 s: each followed by 0.15 s blind)
        x[k:k + 200] = np.nan
    for t in range(1300, n, 1700):  # (a twitch now and then, away from the outages)
        if (t % 2000) > 400:
            x[t:t + 10] += 150 * np.sin(np.linspace(0, 2 * np.pi, 10))
    p = tmp_path / "lossy.csv"
    np.savetxt(p, np.column_stack([np.arange(n) / fs, x]), delimiter=",", header="time_s,calf", comments="")
    monkeypatch.setenv("MYOTWITCH_HOME", str(tmp_path / "home"))
    assert main(["analyze", str(p), "--no-index", "--json", str(tmp_path / "r.json")]) == 0
    import json

    r = json.loads((tmp_path / "r.json").read_text())
    r = r[0] if isinstance(r, list) else r
    st = r["stats"]
    assert st["counts"]["twitch"] > 10 and st["searched_s"] < st["valid_s"] - 3  # (blind 3.8 s of 45)
    assert sum(u["duration_s"] for u in r["unsearched"]) == pytest.approx(st["valid_s"] - st["searched_s"], abs=1e-6)
    rate, width = rates(r)
    assert width == 1 and rate[0] == pytest.approx(st["twitches_per_hour"])
    older = {k: v for k, v in r.items() if k != "unsearched"}
    assert rates(older)[0][0] == pytest.approx(st["counts"]["twitch"] / (st["valid_s"] / 3600))


def test_unsearched_spans_leave_a_bin_with_its_searched_time_only():
    r, _ = rates(session(120.0, [5, 10, 70], gaps=[(30.0, 15.0)], unsearched=[(0.0, 0.5), (45.0, 0.15), (59.9, 0.2)]))
    assert r[0] == pytest.approx(2 / ((45 - 0.5 - 0.15 - 0.1) / 3600))
    assert r[1] == pytest.approx(1 / ((60 - 0.1) / 3600))  # (a span across the bins' edge: its part in each)


def test_the_report_draws_a_csv_in_the_units_it_was_analysed_in(tmp_path, monkeypatch, report_views):
    """`analyze x.csv --units mV --report r.html` counted in µV but drew the file again as µV:
    traces and twitch snippets a thousand times too small."""
    rng = np.random.default_rng(0)
    n = 5000
    x = rng.normal(0, 0.005, n)  # mV: 5 µV RMS
    x[2000:2010] += 0.3 * np.sin(np.linspace(0, 2 * np.pi, 10))  # a 600 µV twitch
    p = tmp_path / "mv.csv"
    np.savetxt(p, np.column_stack([np.arange(n) / 1000, x]), delimiter=",", header="time_s,calf", comments="")
    monkeypatch.setenv("MYOTWITCH_HOME", str(tmp_path / "home"))
    assert main(["analyze", str(p), "--units", "mV", "--no-index", "--report", str(tmp_path / "r.html")]) == 0
    fs, edges, lo, hi, snippets, _ = report_views[0]
    assert np.nanmax(hi) > 100  # µV, as analysed (in mV it peaked at 0.3)


def test_a_lone_unit_card_is_not_blown_up_on_a_wide_screen(tmp_path, chromium_page, example_edf_analysis):
    """One recurring unit: its 460 px plot was stretched over the 980 px page, blurred."""
    r = example_edf_analysis  # analyze_file(calf-10min.edf, DetectorConfig()), a copy of this test's own
    r["units"] = [u for u in r["units"] if u["count"] >= 3][:1]
    out = tmp_path / "r.html"
    report.write_report(str(out), [r])
    view = chromium_page(out, width=1280)
    sizes = view.page.evaluate("[...document.images].filter(i => i.alt.includes('members (grey)'))"
                               ".map(i => [i.getBoundingClientRect().width, i.naturalWidth])")
    assert len(sizes) == 1
    shown, natural = sizes[0]
    assert shown <= 1.1 * natural, sizes
    phone = chromium_page(out)
    assert phone.scroll_width() <= 390


def test_the_report_does_not_say_a_files_warnings_twice(tmp_path, caplog):
    """A truncated EDF was said to be truncated twice: when analysed, and when the report read
    it again for its plots."""
    from myotwitch.host.paths import data_dir

    src = (data_dir() / "examples" / "calf-10min.edf").read_bytes()
    cut = tmp_path / "cut.edf"
    cut.write_bytes(src[: len(src) // 8 + 100])
    assert main(["analyze", str(cut), "--no-index", "--report", str(tmp_path / "r.html")]) == 0
    said = [r.getMessage() for r in caplog.records if "(truncated?)" in r.getMessage()]
    assert len(said) == 1, said


def test_the_report_shows_what_went_wrong_with_each_file(tmp_path):
    """The terminal said a file was truncated (or a channel no EMG, or counting nothing); the
    page, which is what gets handed on, showed the counts as if nothing had gone wrong."""
    import html

    from myotwitch.host.analysis import analyze_file
    from myotwitch.host.paths import data_dir

    src = (data_dir() / "examples" / "calf-10min.edf").read_bytes()
    cut = tmp_path / "cut.edf"
    cut.write_bytes(src[: len(src) // 8 + 100])
    r = analyze_file(str(cut))
    warnings = r["quality"]["warnings"]
    assert any("(truncated?)" in w for w in warnings)
    out = tmp_path / "r.html"
    report.write_report(str(out), [r])
    page = html.unescape(out.read_text())
    for w in warnings:
        assert w in page


def test_the_timeline_is_drawn_without_the_mains_the_analysis_removed(tmp_path):
    """20 µV RMS of 50 Hz hum drew a ±30 µV band around a 2 µV trace: the analysis removes the
    hum, the drawing kept it and hid the smaller twitches marked on it."""
    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.analysis import analyze_file

    fs, n = 1000.0, 20000
    t = np.arange(n) / fs
    x = np.random.default_rng(0).normal(0, 2, n) + 20 * np.sqrt(2) * np.sin(2 * np.pi * 50 * t)
    p = tmp_path / "hum.csv"
    np.savetxt(p, np.column_stack([t, x]), delimiter=",", header="time_s,calf_uV", comments="", fmt="%.4f")
    r = analyze_file(str(p), DetectorConfig())
    assert r["quality"]["mains"]["frequency_hz"] == 50.0
    _, _, lo, hi, _, _ = report._signal_views(r)
    assert np.nanmedian(hi[0, 100:-100]) < 10, np.nanmedian(hi[0])  # (with the hum: ~30)


def test_a_recording_without_twitches_says_so_instead_of_drawing_empty_plots(tmp_path):
    """A quiet file's report drew an empty size histogram and "The 0 clearest twitches"."""
    rng = np.random.default_rng(3)
    p = tmp_path / "quiet.csv"
    np.savetxt(p, np.column_stack([np.arange(20_000) / 1000, rng.normal(0, 3, 20_000)]), delimiter=",",
               header="time_s,calf_uV", comments="")
    out = tmp_path / "r.html"
    assert main(["analyze", str(p), "--no-index", "--report", str(out)]) == 0
    text = out.read_text()
    assert "No twitches were found, so there are no sizes or waveforms to show." in text
    assert text.count("data:image/png") == 3  # the timeline, the rate and the spectrum, no empty ones


def test_files_of_one_name_from_two_folders_are_told_apart_in_the_report(tmp_path, monkeypatch):
    """A study's P01/night.csv and P02/night.csv: the terminal's list names them by their paths,
    the report had named both "night.csv" in its table and headings, so the page no longer said
    whose recording each section was."""
    rng = np.random.default_rng(1)
    given = []
    for who in ("P01", "P02"):
        (tmp_path / who).mkdir()
        p = tmp_path / who / "night.csv"
        np.savetxt(p, np.column_stack([np.arange(4000) / 1000, rng.normal(0, 5, 4000)]), delimiter=",",
                   header="time_s,calf", comments="")
        given.append(str(p))
    (tmp_path / "solo").mkdir()
    solo = tmp_path / "solo" / "day.csv"
    solo.write_text((tmp_path / "P01" / "night.csv").read_text())
    monkeypatch.setenv("MYOTWITCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "r.html"
    assert main(["analyze", *given, str(solo), "--no-index", "--no-progress", "--report", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    for p in given:
        assert page.count(f"<td>{p}</td>") == 1  # the table's row
        assert f"<h2>{p}</h2>" in page  # the file's section
    assert "<h2>night.csv</h2>" not in page and "<td>night.csv</td>" not in page
    assert "<h2>day.csv</h2>" in page  # (a name no other file shares stays short)


def test_the_rate_bins_of_a_file_without_twitches_start_at_zero(tmp_path, monkeypatch):
    """With no twitch anywhere the axis had run from -0.04 to 0.04 with no bar on it (a broken
    plot to the eye, and a negative rate); it runs from 0, as it does with twitches."""
    rng = np.random.default_rng(5)
    p = tmp_path / "quiet.csv"
    np.savetxt(p, np.column_stack([np.arange(30_000) / 1000, rng.normal(0, 4, 30_000)]), delimiter=",",
               header="time_s,calf", comments="")
    figs = []
    real = report._png
    monkeypatch.setattr(report, "_png", lambda fig: (figs.append((fig, [a.get_ylim() for a in fig.axes],
                                                                  [a.get_title() for a in fig.axes])), real(fig))[1])
    monkeypatch.setenv("MYOTWITCH_HOME", str(tmp_path / "home"))
    assert main(["analyze", str(p), "--no-index", "--report", str(tmp_path / "r.html")]) == 0
    [(lo, hi)] = [lims[0] for _, lims, titles in figs if titles[0].startswith("Twitch rate in")]
    assert lo == 0 and hi >= 1
