"""The history page lists the same days as the terminal and the CSV: a diary entry on a day
without a recording (a symptom logged today) is a row too."""

import datetime as dt
import html
import re

import pytest

from myotwitch.host.advice import load_rules
from myotwitch.host.history import build_history, format_history
from myotwitch.host.index import SessionIndex

pytest.importorskip("matplotlib")


def test_a_diary_day_without_a_recording_is_in_the_pages_days_table():
    from myotwitch.host.history_report import render_history

    today = dt.datetime.combine(dt.date.today(), dt.time())
    with SessionIndex.default() as idx:
        for i in range(3):
            idx.add_session(file=f"/rec/n{i}.edf", start=today - dt.timedelta(days=5 - i, hours=1),
                            duration_s=3 * 3600, twitches=30 * (i + 1), channels=["calf"], per_channel=[30 * (i + 1)])
        idx.add_entry(today + dt.timedelta(hours=8), "symptom", "weakness", None, None)
        sessions, diary = idx.sessions(include_undated=True), idx.entries()
    h = build_history(sessions, diary, load_rules(), days=28)
    day = f"{today:%Y-%m-%d}"
    assert re.search(rf"^{day} .*symptom weakness", format_history(h), re.M)
    page = render_history(h)
    days_table = page[page.index("<h2>Days</h2>"):]
    row = re.search(rf"<tr><td>{day}</td>(.*?)</tr>", days_table)
    assert row and "weakness" in row.group(1) and "–" in row.group(1), days_table[:2000]


def test_the_pages_advice_names_the_article_section_of_each_item():
    """The terminal, the analysis report and the live app cite the reference article's section
    of every advice item; the history page, which a doctor may be shown, left it out."""
    from myotwitch.host.history_report import render_history

    now = dt.datetime.now().replace(microsecond=0)
    with SessionIndex.default() as idx:
        idx.add_session(file="/rec/n.edf", start=now - dt.timedelta(days=1), duration_s=3 * 3600, twitches=30,
                        channels=["calf"], per_channel=[30])
        idx.add_entry(now - dt.timedelta(hours=2), "symptom", "weakness", None, None)
        sessions, diary = idx.sessions(include_undated=True), idx.entries()
    h = build_history(sessions, diary, load_rules(), days=28)
    items = h["advice"]["items"]
    assert {"consult", "info"} <= {i["level"] for i in items}
    advice = render_history(h)
    advice = advice[advice.index("<h2>Advice</h2>"):]
    for i in items:
        assert f"source: reference article, section “{html.escape(i['section'])}”" in advice, advice


def test_only_short_recordings_say_record_longer_not_record():
    """After a 30 s recording, history said "no dated recordings in this window. Record ... to
    add sessions", as if the recording had not been kept at all."""
    from myotwitch.host.history_report import render_history

    with SessionIndex.default() as idx:
        idx.add_session(file="/rec/short.edf", start=dt.datetime.now() - dt.timedelta(hours=1), duration_s=30,
                        twitches=2)
        sessions = idx.sessions(include_undated=True)
    h = build_history(sessions, [], load_rules(), days=28)
    text = format_history(h)
    flat = " ".join(text.split())
    assert "no recording in this window is long enough to give a rate (at least 1 min of data): record for " in flat
    assert "Record (`myotwitch record`)" not in flat
    assert "No recording in this window is long enough to give a rate" in render_history(h)
    assert max(len(line) for line in text.splitlines()) <= 100
