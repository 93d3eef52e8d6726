"""`myotwitch history`: weeks of rates with the advice's own evidence (issue 14)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from myotwitch.host.advice import advise, load_rules
from myotwitch.host.cli import main
from myotwitch.host.history import build_history, fmt_p, format_history, strict
from myotwitch.host.index import SessionIndex, distinct_sessions

TODAY = dt.datetime.combine(dt.date.today(), dt.time())


def _nights(idx: SessionIndex, per_min: list[float], seed: int = 3, channels=("gastrocnemius",)) -> list[dt.datetime]:
    """One night per rate, ending last night; 5-8 hours each, so hours matter for the rate."""
    rng = np.random.default_rng(seed)
    starts = []
    for i, rate in enumerate(per_min):
        start = TODAY - dt.timedelta(days=len(per_min) - i) + dt.timedelta(hours=23)
        hours = float(rng.uniform(5, 8))
        n = int(round(rate * 60 * hours))
        idx.add_session(file=f"/rec/night{i:02d}.edf", start=start, duration_s=hours * 3600, twitches=n,
                        channels=list(channels), per_channel=[n] + [0] * (len(channels) - 1), episodes=i % 4)
        starts.append(start)
    return starts


def _diary(idx: SessionIndex, days: int) -> None:
    for i in range(days):
        day = TODAY - dt.timedelta(days=days - i)
        idx.add_entry(day + dt.timedelta(hours=9), "caffeine", "caffeine", 400.0 if i % 2 else 95.0, None)
        idx.add_entry(day + dt.timedelta(hours=7), "sleep", "sleep", 5.0 if i % 3 == 0 else 7.5, None)
        idx.add_entry(day + dt.timedelta(hours=20), "stress", "stress", float(1 + i % 5), None)
    idx.add_entry(TODAY - dt.timedelta(days=3, hours=-12), "symptom", "twitching_elsewhere", None, "left thigh")


RISING = [2 + 18 * i / 15 for i in range(16)]  # 2 -> 20 twitches per minute
STEADY = [5.0 * f for f in np.random.default_rng(11).uniform(0.85, 1.15, 16)]


@pytest.fixture
def rising(_isolated_home):
    with SessionIndex.default() as idx:
        _nights(idx, RISING)
        _diary(idx, 16)
    return _isolated_home


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "myotwitch.host.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=os.environ.copy(), timeout=120)


def test_rising_nights_report_json_and_text_agree(rising, tmp_path, capsys):
    page, js = tmp_path / "h.html", tmp_path / "h.json"
    r = _run("history", "--report", str(page), "--json", str(js))
    assert r.returncode == 0, r.stderr
    h = json.loads(js.read_text())
    w = h["rules"]["worsening"]
    # the same verdict and numbers as the advice engine on the same index
    with SessionIndex.default() as idx:
        m = advise(index=idx).metrics
    assert w["fires"] and m["worsening"]
    assert w["p"] == pytest.approx(m["trend_p"]) and w["p"] < 0.001
    assert w["fold_change"] == pytest.approx(m["trend_end_rate"] / max(m["trend_start_rate"], 1.0))
    assert 7 < w["fold_change"] < 13  # about 10x: 2 -> 20 per minute
    assert w["start_rate_per_hour"] == pytest.approx(120, rel=0.15)
    assert w["end_rate_per_hour"] == pytest.approx(1200, rel=0.15)
    assert w["line"]["from"][:10] == (TODAY - dt.timedelta(days=16)).date().isoformat()
    assert h["rules"]["persistent"]["fires"] and h["rules"]["persistent"]["twitch_days"] == 16
    assert len(h["days"]) == 16 and all(5 <= d["hours"] <= 8 for d in h["days"])
    assert [d["rate_per_hour"] for d in h["days"]] == pytest.approx([s["rate_per_hour"] for s in h["sessions"]])
    html = page.read_text()
    terminal = " ".join(r.stdout.split())  # undo the line wrapping
    for text in (f"p = {fmt_p(w['p'])}", f"fold change {w['fold_change']:.2f}", "Worsening rule: worsening",
                 "Persistent rule: persistent", "twitching elsewhere logged 1 time in"):
        assert text in html and text in terminal, text
    assert 'alt="twitch rate per recorded day with the fitted trend line"' in html
    assert 'alt="diary: caffeine, sleep, stress, exercise, fluids, symptoms"' in html
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    # --json to stdout is strict JSON and the same document
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    same = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert same["rules"] == h["rules"] and same["days"] == h["days"]


def test_steady_nights_say_not_worsening_with_numbers(tmp_path):
    with SessionIndex.default() as idx:
        _nights(idx, STEADY)
    page = tmp_path / "steady.html"
    r = _run("history", "--report", str(page), "--json", str(tmp_path / "s.json"))
    assert r.returncode == 0, r.stderr
    w = json.loads((tmp_path / "s.json").read_text())["rules"]["worsening"]
    assert w["tested"] and not w["fires"] and w["fold_change"] < 1.5
    html = page.read_text()
    assert "Worsening rule: not worsening" in html
    assert f"p = {fmt_p(w['p'])}" in html and f"fold change {w['fold_change']:.2f}" in html


def test_rate_and_diary_plots_have_dated_axes(rising, monkeypatch):
    import matplotlib.dates as mdates

    from myotwitch.host import history_report

    figs = []

    def keep(fig):
        figs.append(fig)
        return "x"

    monkeypatch.setattr(history_report, "_png", keep)
    with SessionIndex.default() as idx:
        h = build_history(idx.sessions(include_undated=True), idx.entries(), load_rules(), days=28)
    names = list(history_report.plots(h))
    assert names == ["rate", "hours", "channels", "diary"]
    for fig in figs:
        for ax in (a for a in fig.axes if a.axison):  # (not the channels' legend panel)
            fmt = ax.xaxis.get_major_formatter()
            assert isinstance(fmt, mdates.DateFormatter)  # day and month on every tick, no offset to misread
            assert fmt(mdates.date2num(dt.datetime(2026, 11, 22))) == "22 Nov"
            lo, hi = (mdates.num2date(v).date() for v in ax.get_xlim())
            assert (lo.isoformat(), hi) == (h["window"]["from"], dt.date.today() + dt.timedelta(days=1))
    marks = figs[-1].axes[-1]  # symptoms and medicines: each marker says what was logged
    assert "twitching elsewhere" in [t.get_text() for t in marks.texts]
    rate_ax = figs[0].axes[0]
    fit = [ln for ln in rate_ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(fit) == 1 and fit[0].get_ydata()[1] == pytest.approx(h["rules"]["worsening"]["end_rate_per_hour"])
    episodes_ax = figs[1].axes[1]
    assert all(float(v).is_integer() for v in episodes_ax.get_yticks())  # no half episodes
    # a point on the last day or at the top is drawn whole, not cut by the frame
    assert all(not ln.get_clip_on() for ln in figs[2].axes[0].get_lines() if ln.get_marker() == "o")


def test_the_rate_plot_s_alt_text_names_a_trend_line_only_when_one_is_drawn(rising):
    pytest.importorskip("matplotlib")
    from myotwitch.host.history_report import render_history

    with SessionIndex.default() as idx:
        h = build_history(idx.sessions(include_undated=True), idx.entries(), load_rules(), days=28)
    assert h["rules"]["worsening"]["line"]
    assert 'alt="twitch rate per recorded day with the fitted trend line"' in render_history(h)
    h["rules"]["worsening"].update(line=None, tested=False)  # (too few sessions for the trend test)
    page = render_history(h)
    assert 'alt="twitch rate per recorded day"' in page and "fitted trend line" not in page


def test_reanalysing_by_another_path_does_not_change_history(tmp_path, monkeypatch):
    """Content keys: a file given again by a relative path, a symlink or a copy is the same session."""
    monkeypatch.chdir(tmp_path)
    files = []
    for i in range(8):
        f = tmp_path / f"n{i}.edf"
        f.write_bytes(b"0       " + bytes([i]) * 5000)
        files.append(f)
    rules = load_rules()

    def summary(path, i):
        start = (TODAY - dt.timedelta(days=8 - i, hours=1)).isoformat()
        n = 100 * (i + 1)
        return {"file": str(path), "start": start, "channels": ["c"],
                "stats": {"duration_s": 3600.0, "valid_s": 3600.0, "counts": {"twitch": n},
                          "twitches_per_hour": float(n), "episodes": 1, "twitches_per_channel": [n]}}

    with SessionIndex.default() as idx:
        for i, f in enumerate(files):
            idx.add_summary(summary(f, i))
        now = dt.datetime.now()
        before = build_history(idx.sessions(include_undated=True), idx.entries(), rules, days=28, now=now)
        os.symlink(files[0], tmp_path / "link.edf")
        (tmp_path / "copy").mkdir()
        (tmp_path / "copy" / "n1.edf").write_bytes(files[1].read_bytes())
        for i, f in enumerate(files):
            idx.add_summary(summary(os.path.relpath(f), i))
        idx.add_summary(summary("link.edf", 0))
        idx.add_summary(summary("copy/n1.edf", 1))
        after = build_history(idx.sessions(include_undated=True), idx.entries(), rules, days=28, now=now)
    assert after["days"] == before["days"] and after["rules"] == before["rules"]
    assert len(after["sessions"]) == 8


def _write_edf(path, start: dt.datetime, seed: int, rate: float) -> None:
    from myotwitch.dsp.synth import SynthSpec, synthesize
    from myotwitch.host.edf import EdfWriter

    x, _ = synthesize(SynthSpec(fs=1000.0, duration_s=65.0, seed=seed, twitch_rate=rate))  # (rates need >= 1 min)
    w = EdfWriter(path, fs=1000.0, labels=["calf"], uv_per_count=0.125, start=start)
    w.write(x)
    w.close()


def test_end_to_end_analyze_twice_by_relative_and_absolute_path(tmp_path):
    folder = tmp_path / "recs"
    folder.mkdir()
    names = []
    for i in range(3):
        name = f"night{i}.edf"
        _write_edf(folder / name, TODAY - dt.timedelta(days=3 - i, hours=2), seed=i, rate=10 + 10 * i)
        names.append(name)
    first = _run("analyze", *names, "--no-progress", "-j", "1", cwd=folder)
    assert first.returncode == 0, first.stderr
    h1 = json.loads(_run("history", "--json").stdout)
    again = _run("analyze", *[str(folder / n) for n in names], "--no-progress", "-j", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    h2 = json.loads(_run("history", "--json").stdout)
    assert len(h1["sessions"]) == 3 and h2["days"] == h1["days"] and h2["rules"] == h1["rules"]
    assert sum(d["twitches"] for d in h1["days"]) > 10
    # the advice printed by the second analysis counts each night once (issue 18: it said 4 of 3)
    m = re.search(r"(\d+) twitches in (\d+) recording", " ".join(again.stdout.split()))
    assert m and (int(m.group(1)), int(m.group(2))) == (sum(d["twitches"] for d in h1["days"]), 3)


def test_undated_sessions_are_counted_and_left_out(_isolated_home):
    with SessionIndex.default() as idx:
        _nights(idx, RISING[:3])
        idx.add_session(file="/rec/notime.csv", start=None, duration_s=600, twitches=50)
        h = build_history(idx.sessions(include_undated=True), [], load_rules(), days=28)
    assert h["undated"] == {"count": 1, "files": ["notime.csv"]}
    assert len(h["sessions"]) == 3 and sum(d["twitches"] for d in h["days"]) == sum(s["twitches"] for s in h["sessions"])
    text = format_history(h)
    assert "1 undated session (no start time in the file) is kept" in text and "left out of the trends" in text and "notime.csv" in text
    assert "not tested: needs at least 6 dated sessions, 3 recorded" in text


def test_recordings_too_short_for_a_rate_are_listed_not_measured(_isolated_home):
    """A recorder stopped within its first second left 0.2-2 s sessions with a twitch or two:
    their 'rates' of thousands an hour made the trend line climb to 200,000/h and bury the
    nights' bars. Under ``min_session_minutes`` a recording is listed, not measured, in the
    history and in the advice alike."""
    with SessionIndex.default() as idx:
        _nights(idx, STEADY)
        last = TODAY - dt.timedelta(hours=2)
        for i, secs in enumerate((0.2, 0.5, 1.0, 2.0, 30.0)):
            idx.add_session(file=f"/rec/blip{i}.edf", start=last + dt.timedelta(minutes=i), duration_s=secs,
                            twitches=1)
        sessions = idx.sessions(include_undated=True)
    rules = load_rules()
    h = build_history(sessions, [], rules, days=28)
    assert h["short"]["count"] == 5 and "blip0.edf" in h["short"]["files"]
    assert len(h["sessions"]) == len(STEADY)
    w = h["rules"]["worsening"]
    assert w["tested"] and max(w["start_rate_per_hour"], w["end_rate_per_hour"]) < 2 * 60 * max(STEADY)
    assert all(d["rate_per_hour"] < 2 * 60 * max(STEADY) for d in h["days"])
    assert "5 files under 1 min of data are too short to give a rate" in format_history(h)
    a = advise(sessions=[s for s in sessions if s["start"] is not None], diary=[], ruleset=rules)
    assert a.metrics["short_sessions"] == 5 and a.metrics["sessions"] == len(STEADY)
    assert a.metrics["rate_latest"] == pytest.approx(h["sessions"][-1]["rate_per_hour"])


def test_per_unit_rates_and_first_seen(_isolated_home):
    with SessionIndex.default() as idx:
        for i in range(6):
            units = [{"unit": "U1", "channel": 0, "count": 60, "known_as": "P1"}] + (
                [{"unit": "U2", "channel": 0, "count": 30, "known_as": "P2"}] if i >= 3 else []) + (
                [{"unit": "U3", "channel": 0, "count": 3 if i == 1 else 2}] if i in (1, 4) else [])  # one session's label only
            idx.add_session(file=f"/rec/u{i}.edf", start=TODAY - dt.timedelta(days=6 - i), duration_s=3600,
                            twitches=90 if i >= 3 else 60, channels=["calf"], units=units)
        # the last day also has an hour in which no unit fired: the units' rates count it too;
        # and an hour at another site, where they could not have been seen: that one does not
        idx.add_session(file="/rec/quiet.edf", start=TODAY - dt.timedelta(hours=3), duration_s=3600,
                        twitches=0, channels=["calf"], units=[])
        idx.add_session(file="/rec/shin.edf", start=TODAY - dt.timedelta(hours=2), duration_s=3600,
                        twitches=10, channels=["shin"], units=[])
        h = build_history(idx.sessions(include_undated=True), [], load_rules(), days=28)
    u1, u2 = h["units"]["unit P1"], h["units"]["unit P2"]
    assert (u1["twitches"], u1["rate_per_hour"]) == (360, pytest.approx(360 / 7))
    assert (u2["twitches"], u2["rate_per_hour"]) == (90, pytest.approx(90 / 7))
    assert u2["first_seen"] == (TODAY - dt.timedelta(days=3)).date().isoformat()
    assert h["days"][-1]["hours"] == pytest.approx(3.0)
    assert h["days"][-1]["per_unit"]["unit P2"] == {"twitches": 30, "rate_per_hour": pytest.approx(15.0)}
    assert f"unit P2 {u2['first_seen']}" in format_history(h)
    # two sessions' "U3" are two sources, not one: neither is added up nor first seen; the one
    # seen only twice is no recurring unit (as `analyze` and its report count them)
    assert set(h["units"]) == {"unit P1", "unit P2"} and h["unnamed_units"] == 1
    assert "(1 recurring unit without a lasting name, each known in its own session only, is not" in " ".join(
        format_history(h).split())


def test_caffeine_association_stated_with_counts(_isolated_home):
    """Rates after high-caffeine days are higher: said as an association, with rates, n and p."""
    rates = [20.0 if i % 2 else 5.0 for i in range(10)]
    with SessionIndex.default() as idx:
        starts = _nights(idx, [r / 60 for r in rates])
        for i, s in enumerate(starts):
            idx.add_entry(s.replace(hour=9), "caffeine", "caffeine", 400.0 if i % 2 else 50.0, None)
        h = build_history(idx.sessions(include_undated=True), idx.entries(), load_rules(), days=28)
        m = advise(index=idx).metrics
    c = h["associations"]["caffeine"]
    assert c["associated"] and m["caffeine_association"]
    assert (c["high_n"], c["low_n"]) == (5, 5) and c["high_rate_per_hour"] == pytest.approx(20.0, rel=0.01)
    assert 0 < c["p"] < 0.1
    text = " ".join(format_history(h).split())
    assert "(n = 5) against 5.0/h (n = 5)" in text and "an association, not proof of a cause" in text


def test_json_is_strict():
    assert strict({"a": float("nan"), "b": [float("inf"), 1.5]}) == {"a": None, "b": [None, 1.5]}


@pytest.mark.parametrize("args, message", [
    (["--days", "0"], "--days 0: expected 1 to 3650 days"),
    (["--days", "-5"], "--days -5: expected 1 to 3650 days"),
    (["--days", "100000"], "--days 100000: expected 1 to 3650 days"),
    (["--days", "two"], "--days two: expected a whole number"),
    (["--before", "yesterday"], "--before yesterday: expected a date YYYY-MM-DD"),
    (["--forget", "/nope/x.edf"], "/nope/x.edf: no session of this file in the index"),
    (["--before", "2099-01-01"], "--before 2099-01-01: is in the future, so every dated session would go"),
    (["--report", "/nope/dir/x.html"], "--report /nope/dir/x.html: folder /nope/dir does not exist"),
    (["--csv", "/nope/dir/x.csv"], "--csv /nope/dir/x.csv: folder /nope/dir does not exist"),
])
def test_bad_arguments_one_line(args, message, capsys):
    assert main(["history", *args]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_report_without_matplotlib_names_the_extra(monkeypatch, tmp_path, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["history", "--report", str(tmp_path / "h.html")]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'myotwitch[report]'" in err
    assert not (tmp_path / "h.html").exists()


def test_forget_and_before_from_the_cli(capsys, tmp_path):
    rec = tmp_path / "a.edf"
    rec.write_bytes(b"0       data" * 100)
    with SessionIndex.default() as idx:
        _nights(idx, RISING[:4])
        idx.add_session(file=str(rec), start=TODAY - dt.timedelta(days=1), duration_s=60, twitches=1)
        idx.add_session(file="/rec/undated.csv", start=None, duration_s=60, twitches=1)
    link = tmp_path / "link.edf"
    link.symlink_to(rec)
    assert main(["history", "--forget", str(link)]) == 0
    assert main(["history", "--before", (TODAY - dt.timedelta(days=2)).date().isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"removed 1 session of {link}" in out
    assert "removed 2 sessions that started before" in out and "1 undated session kept (remove it with" in out
    with SessionIndex.default() as idx:
        assert [s["file"] for s in idx.sessions(include_undated=True)] == [
            "/rec/night02.edf", "/rec/night03.edf", "/rec/undated.csv"]


def test_forget_takes_several_files_and_a_future_date_removes_nothing(capsys):
    """`--forget a.edf b.edf` was refused ('unrecognized arguments'), and `--before 2099-01-01`
    removed every dated session without a question."""
    with SessionIndex.default() as idx:
        _nights(idx, RISING[:4])
    assert main(["history", "--before", "2099-01-01"]) != 0
    assert main(["history", "--forget", "/rec/night00.edf", "/rec/night01.edf"]) == 0
    with SessionIndex.default() as idx:
        assert [s["file"] for s in idx.sessions(include_undated=True)] == ["/rec/night02.edf", "/rec/night03.edf"]


def test_csv_one_row_per_day(rising, tmp_path):
    import csv

    path = tmp_path / "days.csv"
    assert main(["history", "--csv", str(path)]) == 0
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 16
    with SessionIndex.default() as idx:
        h = build_history(idx.sessions(include_undated=True), idx.entries(), load_rules(), days=28)
    assert [float(r["rate_per_hour"]) for r in rows] == pytest.approx([d["rate_per_hour"] for d in h["days"]], rel=1e-5)
    assert {r["caffeine_mg"] for r in rows} == {"400", "95"}


def test_history_help_teaches(capsys):
    with pytest.raises(SystemExit) as done:
        main(["history", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out.lower()
    for text in ("Kendall", "Theil-Sen", "fold change", "undated", "--forget", "--before", "rules.toml",
                 "associations, not causes", "examples:"):
        assert text.lower() in out, text


def test_history_page_in_a_phone_browser(rising, tmp_path, chromium_page):
    page = tmp_path / "h.html"
    assert main(["history", "--report", str(page)]) == 0
    view = chromium_page(page)
    assert view.errors == []
    assert view.broken_images() == []
    assert view.page.evaluate("document.images.length") >= 4
    assert view.scroll_width() <= 390
    assert view.smallest_font_px() >= 12
    # a script injected into the page is refused by its Content-Security-Policy
    html = page.read_text().replace("</body>", "<script>document.title='ran'</script></body>")
    hacked = tmp_path / "hacked.html"
    hacked.write_text(html)
    view = chromium_page(hacked)
    assert view.page.title() == "myotwitch history"
    assert any("Content Security Policy" in e for e in view.errors)


def test_sessions_counted_with_different_settings_are_said_to_be(tmp_path):
    """A rate that fell because --min-twitch rose (or a release changed a default) is not the
    muscle's: history says which settings differ, and names sessions whose settings it does not
    know, in the text, the JSON and the page alike."""
    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.history import counting_statement

    now = dt.datetime(2026, 11, 20, 12, 0)

    def session(i, cfg):
        s = {"file": f"/rec/{i}.edf", "start": (now - dt.timedelta(days=10 - i)).isoformat(), "channels": ["calf"],
             "stats": {"duration_s": 7200.0, "valid_s": 7200.0, "counts": {"twitch": 100}, "twitches_per_hour": 50.0,
                       "episodes": 1, "twitches_per_channel": [100]}}
        if cfg is not None:
            s["detector"] = dataclasses.asdict(cfg)
        return s

    def history(configs):
        with SessionIndex(tmp_path / f"{len(configs)}-{id(configs)}.sqlite") as idx:
            for i, cfg in enumerate(configs):
                idx.add_summary(session(i, cfg))
            return build_history(idx.sessions(), [], load_rules(), days=28, now=now)

    same = history([DetectorConfig()] * 3)
    assert counting_statement(same) == "" and len(same["counting"]["sets"]) == 1
    mixed = history([DetectorConfig(min_twitch_uv=10.0)] * 2 + [DetectorConfig()] * 2)
    text = counting_statement(mixed)
    assert "different detector settings (smallest twitch counted 10 / 15 µV; 2 / 2 files)" in text
    assert mixed["counting"]["differ"] == ["min_twitch_uv"]
    assert "different detector settings" in format_history(mixed).replace("\n", " ")
    pytest.importorskip("matplotlib")
    from myotwitch.host.history_report import render_history

    assert "different detector settings (smallest twitch counted 10 / 15 µV" in render_history(mixed)
    old = history([None, None, DetectorConfig()])
    assert counting_statement(old).startswith("2 sessions were indexed before the index kept the detector settings")
    assert counting_statement(history([None, None])) == ""  # nothing known to compare with


def test_advice_carries_the_same_caveat_as_history(tmp_path):
    # the worsening rule reads the same rates: advice says the settings changed, as history does
    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.advice import format_advice

    now = dt.datetime(2026, 11, 20, 12, 0)
    sessions = []
    for i, cfg in enumerate([DetectorConfig(min_twitch_uv=10.0)] * 2 + [DetectorConfig()] * 2):
        sessions.append({"file": f"/rec/{i}.edf", "start": now - dt.timedelta(days=10 - i), "dated": True,
                         "duration_s": 7200.0, "valid_s": 7200.0, "twitches": 100, "twitches_per_hour": 50.0,
                         "episodes": 1, "per_channel": [100], "channels": ["calf"], "units": [],
                         "counting": dataclasses.asdict(cfg)})
    mixed = advise(sessions, [], now=now)
    assert mixed.caveats and "smallest twitch counted 10 / 15 µV" in mixed.caveats[0]
    assert mixed.to_dict()["caveats"] == mixed.caveats
    assert "note: these files were counted with different detector settings" in format_advice(mixed).replace("\n", " ")
    for s in sessions:
        s["counting"] = dataclasses.asdict(DetectorConfig())
    assert advise(sessions, [], now=now).caveats == []


def test_the_settings_note_weighs_only_the_sessions_the_rules_use(tmp_path):
    # a 20 s recording with other settings gives no rate to compare, so it gives no note
    from myotwitch.dsp import DetectorConfig

    now = dt.datetime(2026, 11, 20, 12, 0)
    sessions = []
    for i, (cfg, seconds) in enumerate([(DetectorConfig(), 7200.0)] * 3 + [(DetectorConfig(min_twitch_uv=10.0), 20.0)]):
        sessions.append({"file": f"/rec/{i}.edf", "start": now - dt.timedelta(days=5 - i), "dated": True,
                         "duration_s": seconds, "valid_s": seconds, "twitches": 3, "twitches_per_hour": 3 / seconds * 3600,
                         "episodes": 1, "per_channel": [3], "channels": ["calf"], "units": [],
                         "counting": dataclasses.asdict(DetectorConfig()) | {"min_twitch_uv": cfg.min_twitch_uv}})
    assert advise(sessions, [], now=now).caveats == []
    assert build_history(sessions, [], load_rules(), days=28, now=now)["counting"]["differ"] == []


def test_every_file_written_is_confirmed_the_same_way(rising, tmp_path):
    """`history --json PATH` wrote its file in silence, and the report's line lacked the
    "myotwitch:" every other message carries."""
    out = tmp_path / "h.json"
    done = _run("history", "--json", str(out), "--csv", str(tmp_path / "h.csv"))
    assert done.returncode == 0 and out.is_file()
    assert f"myotwitch: JSON written to {out}" in done.stderr
    assert f"myotwitch: daily table (CSV) written to {tmp_path / 'h.csv'}" in done.stderr
    quiet = _run("-q", "history", "--json", str(out))
    assert quiet.returncode == 0 and "written" not in quiet.stderr


def test_a_fold_change_from_a_fitted_zero_says_what_it_divided_by(rising):
    """"fitted rate 0.0/h → 313.3/h, fold change 313.32": a fold from zero is no number; the
    rule divides by at least 1/h, and now says so."""
    from myotwitch.host.history import rule_statements

    with SessionIndex.default() as idx:
        h = build_history(idx.sessions(include_undated=True), [], load_rules(), days=28)
    worsening = next(text for kind, _, text in rule_statements(h) if kind == "worsening")
    assert h["rules"]["worsening"]["start_rate_per_hour"] >= 1 and "counted as 1/h" not in worsening
    h["rules"]["worsening"]["start_rate_per_hour"] = 0.0
    worsening = next(text for kind, _, text in rule_statements(h) if kind == "worsening")
    assert "fold change" in worsening and "over a start counted as 1/h" in worsening


def test_a_channels_count_is_over_the_same_files_as_its_hours():
    """The channel table and the day's are over the same files: the channel table had added a
    short file's twitches over none of its hours (89 twitches over the 69 of the day's table, at
    1,335/h instead of 1,035/h). A recording's short last file (under a minute) counts in both,
    its twitches over its seconds, as part of the recording (it had been left out of the day)."""
    now = dt.datetime(2026, 12, 7, 12, 0)
    start = now - dt.timedelta(hours=3)
    files = []
    for i, (n, secs) in enumerate([(17, 60.0), (21, 60.0), (20, 59.98)]):
        files.append({"file": f"f{i}.edf", "start": start + dt.timedelta(minutes=i), "duration_s": secs,
                      "valid_s": secs, "twitches": n, "twitches_per_hour": n / secs * 3600, "episodes": 1,
                      "per_channel": [n], "channels": ["gastrocnemius"], "units": []})
    h = build_history(files, [], load_rules(), days=28, now=now)
    [day] = h["days"]
    ch = h["channels"]["gastrocnemius"]
    assert day["twitches"] == ch["twitches"] == 58
    assert ch["rate_per_hour"] == pytest.approx(day["rate_per_hour"]) == pytest.approx(58 / (179.98 / 3600))
    assert h["short"]["count"] == 0
    assert h["rules"]["worsening"]["sessions"] == 1  # (the rules see one recording, the short file in it)


def test_a_short_file_counts_with_its_recording_on_a_day_the_recording_has_a_rate():
    """A rotated recording's last piece under a minute (`record --rotate 1h` ending 30 s into an
    hour) had been listed as too short and its twitches left out of the day. It counts where its
    recording is long enough and gives a rate that day; alone on the next day (the recording
    ended just after midnight), and as a recording of its own, it is still listed, not measured:
    30 s with a twitch or two is no day's rate."""
    def f(name, start, secs, n):
        return {"file": name, "start": start, "duration_s": secs, "valid_s": secs, "twitches": n,
                "twitches_per_hour": n / secs * 3600, "episodes": 1, "per_channel": [n],
                "channels": ["gastrocnemius"], "units": []}
    now = dt.datetime(2026, 12, 7, 12, 0)
    t0 = dt.datetime(2026, 12, 7, 1, 0)
    files = [f("h1.edf", t0, 3600.0, 40), f("h2.edf", t0 + dt.timedelta(hours=1), 3600.0, 50),
             f("tail.edf", t0 + dt.timedelta(hours=2), 30.0, 11),
             f("blip.edf", t0 + dt.timedelta(hours=5), 30.0, 2)]  # (a recording of its own)
    h = build_history(files, [], load_rules(), days=28, now=now)
    [day] = h["days"]
    assert day["twitches"] == 101 and day["rate_per_hour"] == pytest.approx(101 / (7230 / 3600))
    assert h["short"]["count"] == 1 and h["short"]["files"] == ["blip.edf"]
    assert "1 file under 1 min of data is too short to give a rate and is left out: blip.edf" in format_history(h)
    # a recording that ends 30 s into the next day: its last piece has no long file on that day
    late = [f("h1.edf", t0 - dt.timedelta(hours=2), 3600.0, 40), f("h2.edf", t0 - dt.timedelta(hours=1), 3600.0, 50),
            f("tail.edf", t0, 30.0, 11)]
    late = [dict(s, start=s["start"] - dt.timedelta(hours=1)) for s in late]  # (23:00-00:00-00:00:30 ... )
    h = build_history(late, [], load_rules(), days=28, now=now)
    assert [d["twitches"] for d in h["days"]] == [90] and h["short"]["files"] == ["tail.edf"]


def _summary(file, start, duration_s, twitches, device=None, channels=("gastrocnemius",)):
    return {"file": file, "start": start.isoformat(), "channels": list(channels), "fs": 1000.0,
            "device": {"device_id": device} if device else None,
            "stats": {"duration_s": duration_s, "valid_s": duration_s, "counts": {"twitch": twitches},
                      "twitches_per_hour": twitches / (duration_s / 3600), "episodes": 1,
                      "twitches_per_channel": [twitches]}}


def test_a_copy_cut_short_or_exported_again_counts_once(_isolated_home, caplog):
    """A night and a copy of it cut short (an interrupted card copy: its first third, same start,
    same channels) are two files of one recording: the history had added both, 52 twitches over
    0.11 h for the night's 41 over 0.08 h, and the advice weighed the night twice. Files that
    merely follow each other (the recorder's rotated files), or come from two devices at once,
    stay apart."""
    with SessionIndex.default() as idx:
        starts = _nights(idx, STEADY)
        last = idx.sessions()[-1]
        cut = _summary("/copies/night-cut.edf", last["start"], last["duration_s"] / 3, last["twitches"] // 3)
        idx.add_summary(cut)
        sessions = idx.sessions(include_undated=True)
    caplog.clear()
    h = build_history(sessions, [], load_rules(), days=28)
    assert len(h["sessions"]) == len(STEADY)
    said = [r.getMessage() for r in caplog.records if "same stretch" in r.getMessage()]
    assert len(said) == 1 and "night-cut.edf" in said[0] and "--forget /copies/night-cut.edf" in said[0]
    assert h["days"][-1]["twitches"] == last["twitches"]
    assert h["days"][-1]["hours"] == pytest.approx(last["valid_s"] / 3600)
    # `analyze` with the cut copy in its batch: its advice weighs the night once too
    full = [s for s in sessions if s["file"] != cut["file"]]
    a = advise(sessions=full, diary=[], ruleset=load_rules(), extra_sessions=[cut])
    b = advise(sessions=sessions, diary=[], ruleset=load_rules())
    assert a.metrics["sessions"] == b.metrics["sessions"] == len(STEADY)
    assert a.metrics["rate_latest"] == pytest.approx(b.metrics["rate_latest"]) == pytest.approx(last["twitches_per_hour"])

    with SessionIndex.default() as idx:
        day = starts[0] - dt.timedelta(days=3)
        idx.add_summary(_summary("/rec/a1.edf", day, 3600.0, 60, device="left"))
        idx.add_summary(_summary("/rec/a2.edf", day + dt.timedelta(hours=1), 3600.0, 60, device="left"))
        idx.add_summary(_summary("/rec/b1.edf", day, 3600.0, 30, device="right"))
        files = {s["file"] for s in distinct_sessions(idx.sessions())}
    assert {"/rec/a1.edf", "/rec/a2.edf", "/rec/b1.edf"} <= files


def test_a_cut_copy_is_found_among_many_files_and_two_peoples_nights_stay_two():
    """Copies start with their recording (a copy cut short, another export); two people's
    nights recorded at once with the same channel names (no device said) start apart and are
    two recordings, not one counted once."""
    t0 = dt.datetime(2026, 1, 1, 22)
    rows = [{"file": f"/rec/h{i}.edf", "start": t0 + dt.timedelta(days=2, hours=i), "duration_s": 3600.0,
             "valid_s": 3600.0, "channels": ["calf"]} for i in range(2000)]
    copy = dict(rows[1500], file="/copies/h1500-cut.edf", duration_s=1200.0, valid_s=1200.0)
    kept = distinct_sessions(rows[:1000] + [copy] + rows[1000:])
    assert [r["file"] for r in kept] == [r["file"] for r in rows]
    p1 = {"file": "/study/P01/night 1.edf", "start": t0, "duration_s": 8 * 3600.0, "valid_s": 8 * 3600.0,
          "channels": ["EMG"]}
    p2 = {"file": "/study/P02/night 1.edf", "start": t0 + dt.timedelta(minutes=7), "duration_s": 7.5 * 3600.0,
          "valid_s": 7.5 * 3600.0, "channels": ["EMG"]}
    assert distinct_sessions([p1, p2]) == [p1, p2]


def test_a_file_name_is_never_split_across_lines(_isolated_home):
    """The text had wrapped "n ö.csv" at its space ("...: n" / "ö.csv"): names of every length,
    so one of them meets the end of a line wherever the statement's words fall."""
    names = [f"{'n ö ' * k}x-{'y' * k}.csv" for k in range(1, 12)]
    with SessionIndex.default() as idx:
        for name in names:
            idx.add_session(file=f"/rec/sp ü/{name}", start=None, duration_s=600, twitches=5)
        idx.add_session(file="/rec/short one.csv", start=TODAY - dt.timedelta(days=1), duration_s=1.0, twitches=1)
        h = build_history(idx.sessions(include_undated=True), [], load_rules(), days=28)
    assert h["short"]["files"] == ["short one.csv"]
    for width in range(40, 101, 3):
        lines = format_history(h, width).splitlines()
        for name in names[:5] + ["short one.csv"]:  # (the statement quotes the first five)
            assert any(name in line for line in lines), (width, name, lines[:6])


def test_the_per_channel_and_per_unit_lines_are_wrapped_with_names_kept_whole(_isolated_home):
    # seven channels and 39 units had printed one line of 360 and one of 2,000 characters
    labels = [f"EMG calf {i}" for i in range(7)]
    with SessionIndex.default() as idx:
        for i in range(3):
            units = [{"unit": f"U{k}", "channel": 0, "count": 5, "known_as": f"P{10 * i + k}"} for k in range(8)]
            idx.add_session(file=f"/rec/c{i}.edf", start=TODAY - dt.timedelta(days=3 - i), duration_s=3600,
                            twitches=70, channels=labels, per_channel=[10] * 7, units=units)
        h = build_history(idx.sessions(include_undated=True), [], load_rules(), days=28)
    text = format_history(h)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("per channel: "))
    block = lines[start: next(i for i in range(start, len(lines)) if not lines[i])]
    assert len(block) > 4 and all(len(line) <= 100 for line in block), block
    joined = " ".join(line.strip() for line in block)
    assert all(f"{k} 30 twitches" in joined for k in labels)  # (whole, never "EMG calf" / "3" apart)
    assert all(f"unit P{10 * i + k} 5 twitches" in joined for i in range(3) for k in range(8))
    assert not any(line.rstrip().endswith(("EMG", "calf", "unit")) for line in block), block


def test_a_legend_of_many_units_and_a_day_of_many_episodes_leave_the_plots_readable(_isolated_home, monkeypatch):
    # 39 units' legend had been drawn over their plot and down over its date axis; a day of 34
    # episodes had labelled its 1.3-inch axis 0, 4, 8 ... 32, the labels running into each other
    pytest.importorskip("matplotlib")
    from myotwitch.host import history_report

    figs = {}
    monkeypatch.setattr(history_report, "_png", lambda fig: figs.setdefault(len(figs), fig) and "x")
    with SessionIndex.default() as idx:
        for i in range(3):
            units = [{"unit": f"U{k}", "channel": 0, "count": 5 + k, "known_as": f"P{13 * i + k}"} for k in range(13)]
            idx.add_session(file=f"/rec/u{i}.edf", start=TODAY - dt.timedelta(days=3 - i), duration_s=7200,
                            twitches=200, channels=["calf"], units=units, episodes=34 if i == 2 else 1)
        h = build_history(idx.sessions(include_undated=True), [], load_rules(), days=28)
    names = list(history_report.plots(h))
    hours, units = (figs[names.index(n)] for n in ("hours", "units"))

    def boxes(fig, texts):
        r = fig.canvas.get_renderer()
        return [t.get_window_extent(r) for t in texts if t.get_text() and t.get_visible()]

    hours.canvas.draw()
    for ax in hours.axes:
        lo, hi = ax.get_ylim()
        ticks = [t for t, v in zip(ax.get_yticklabels(), ax.get_yticks()) if lo <= v <= hi]
        b = boxes(hours, ticks)
        assert len(b) >= 2 and all(p.y1 <= q.y0 or q.y1 <= p.y0 for p, q in zip(b, b[1:])), [t.get_text() for t in ticks]
    units.canvas.draw()
    plot = next(a for a in units.axes if a.axison)
    [legend] = [lg for a in units.axes for lg in ([a.get_legend()] if a.get_legend() else [])]
    assert len(legend.get_texts()) == 39
    r = units.canvas.get_renderer()
    assert legend.get_window_extent(r).y1 < plot.get_tightbbox(r).y0  # below the plot and its date labels
    assert [t.get_text() for t in legend.get_texts()][:3] == ["unit P0", "unit P1", "unit P2"]
    assert [t.get_text() for t in legend.get_texts()][10] == "unit P10"  # (P2 before P10, not after)


def test_the_header_counts_files_and_recordings_as_the_rules_do():
    """Seven nights, two of them rotated into three 1 h files: the header had said "11 dated
    sessions" above a worsening rule "over 7 sessions" (the rules join a night's files). Both
    counts are said, in the text and on the page, and the rule says recordings."""
    from myotwitch.host import history_report

    def f(name, start, n):
        return {"file": name, "start": start, "duration_s": 3600.0, "valid_s": 3600.0, "twitches": n,
                "twitches_per_hour": float(n), "episodes": 1, "per_channel": [n],
                "channels": ["gastrocnemius"], "units": []}
    now = dt.datetime(2026, 12, 7, 12, 0)
    files = []
    for night in range(7):
        t = dt.datetime(2026, 11, 29, 23, 0) + dt.timedelta(days=night)
        for k in range(3 if night in (1, 4) else 1):
            files.append(f(f"n{night}_{k}.edf", t + dt.timedelta(hours=k), 30 + 10 * night))
    h = build_history(files, [], load_rules(), days=28, now=now)
    assert len(h["sessions"]) == 11 and h["rules"]["worsening"]["sessions"] == 7
    text = format_history(h, width=400)
    assert "11 dated files (7 recordings: files that follow one another are one) on" in text
    assert "Kendall trend test over 7 recordings" in text and "11 dated session" not in text
    page = history_report.render_history(h)
    assert "11 dated files (7 recordings" in page and "11 dated session" not in page


def test_diary_labels_logged_days_apart_do_not_overprint(monkeypatch):
    """A symptom and a medicine logged 4 days apart on a 90-day page had their labels printed
    over each other ("weakmagnesium"); one now stands a line above the other."""
    pytest.importorskip("matplotlib")
    from myotwitch.host import history_report

    figs = {}
    monkeypatch.setattr(history_report, "_png", lambda fig: figs.setdefault(len(figs), fig) and "x")
    now = dt.datetime(2026, 12, 7, 12, 0)
    idx = [{"file": "n.edf", "start": dt.datetime(2026, 10, 20, 23), "duration_s": 3600.0, "valid_s": 3600.0,
            "twitches": 40, "twitches_per_hour": 40.0, "episodes": 1, "per_channel": [40],
            "channels": ["calf"], "units": []}]
    diary = [{"id": i, "time": t, "kind": k, "value": None, "name": v, "note": None}
             for i, (t, k, v) in enumerate([(dt.datetime(2026, 10, 22, 8), "symptom", "weakness"),
                                            (dt.datetime(2026, 10, 26, 21), "medication", "magnesium"),
                                            (dt.datetime(2026, 10, 27, 9), "medication", "salbutamol")])]
    h = build_history(idx, diary, load_rules(), days=90, now=now)
    names = list(history_report.plots(h))
    fig = figs[names.index("diary")]
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [t for t in fig.axes[-1].texts if t.get_text()]
    assert [t.get_text() for t in texts] == ["weakness", "magnesium", "salbutamol"]
    b = [t.get_window_extent(r) for t in texts]
    assert not any(b[i].overlaps(b[j]) for i in range(3) for j in range(i)), [(x.x0, x.x1, x.y0) for x in b]
