"""What the advice and the diary say to a person: numbers as they are, never a rounded-away
p-value or an amount shown as 0."""

import json

import pytest

from myotwitch.host.advice import format_why, load_rules
from myotwitch.host.advice_cmd import parse_entry, shown_value
from myotwitch.host.errors import UsageError


def rule(rid):
    return next(r for r in load_rules().rules if r.id == rid)


@pytest.mark.parametrize("p, shown", [(0.00029, "p = 0.00029"), (0.0123, "p = 0.012"), (0.049, "p = 0.049")])
def test_the_worsening_rules_p_value_is_never_rounded_to_zero(p, shown):
    """A strong trend read "Kendall trend test p = 0.000", while `history` said 0.00029."""
    why = format_why(rule("consult-worsening").why, {"trend_start_rate": 45.0, "trend_end_rate": 315.0,
                                                      "trend_sessions": 10, "trend_p": p})
    assert shown in why and "p = 0.000)" not in why


@pytest.mark.parametrize("n, said", [(1, "1 twitch in 1 recording, "), (2, "2 twitches in 2 recordings, ")])
def test_a_count_in_a_why_is_singular_for_one(n, said):
    """The rules said "twitches in {sessions} recording(s)" and "logged {n} time(s)"."""
    why = format_why(rule("info-usually-harmless").why, {"twitches_total": n, "sessions": n, "rate_latest": 3.0})
    assert why.startswith(said) and "(s)" not in why, why
    for r in load_rules().rules:
        if "symptom_pain" in r.why:
            pain = format_why(r.why, {"symptom_pain": n, "symptom_days": 14})
            assert f"pain logged {n} time{'s' if n > 1 else ''} in the last 14 days" in pain, pain


def test_history_counts_are_singular_for_one(_isolated_home):
    import datetime as dt

    from myotwitch.host.history import build_history, format_history
    from myotwitch.host.index import SessionIndex

    with SessionIndex.default() as idx:
        idx.add_session(file="/rec/n.edf", start=dt.datetime.now() - dt.timedelta(days=1), duration_s=3600, twitches=9)
        idx.add_session(file="/rec/u.csv", start=None, duration_s=600, twitches=1)
        h = build_history(idx.sessions(include_undated=True), [], load_rules(), days=28)
    text = " ".join(format_history(h).split())
    assert ": 1 dated session on 1 day" in text and "1 undated session (no start time in the file) is kept" in text
    assert "(s)" not in text, text


@pytest.mark.parametrize("what, value, unit, expected", [
    ("sleep", "7h", None, 7.0), ("sleep", "450min", None, 7.5), ("sleep", "450 min", "min", 7.5),
    ("caffeine", "200mg", None, 200.0), ("caffeine", "2cups", None, 190.0), ("fluids", "500ml", None, 0.5),
    ("fluids", "1.5L", None, 1.5)])
def test_a_unit_typed_onto_the_number_is_understood(what, value, unit, expected):
    """`log sleep 7h` was "'7h' is not a number", as people write their amounts."""
    assert parse_entry(what, value, unit)[2] == pytest.approx(expected)


@pytest.mark.parametrize("value, unit, expected", [
    ("7h30m", None, 7.5), ("7h30", None, 7.5), ("7 h 30 min", None, 7.5), ("7:30", None, 7.5), ("6:05", "h", 6 + 5 / 60),
    ("0h45m", None, 0.75)])
def test_a_night_in_hours_and_minutes_is_understood(value, unit, expected):
    """`log sleep 7h30m` (as `record --duration 1h30m` is written) or `7:30` had been refused as
    "'7h30m' is not a number"."""
    assert parse_entry("sleep", value, unit)[2] == pytest.approx(expected)


@pytest.mark.parametrize("what, value, unit, message", [
    ("sleep", "7h75", None, "minutes go up to 59"),
    ("sleep", "7h30m", "min", "give the unit once"),
    ("sleep", "25:00", None, "at most 24 hours"),
    ("sleep", "7hrs", None, "unit 'hrs' is not one of h, min"),
    ("sleep", "7h", "min", "give the unit once"),
    ("fluids", "3000", None, "implausible (over 15 l; in millilitres: `myotwitch log fluids 3000 --unit ml`)"),
    ("sleep", "450", None, "at most 24 hours; in minutes: `myotwitch log sleep 450 --unit min`"),
])
def test_amount_mistakes_say_the_way_out(what, value, unit, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        parse_entry(what, value, unit)
    assert "\n" not in str(e.value)


def test_a_small_amount_of_fluid_is_not_shown_as_zero():
    """`log fluids 20 --unit ml` answered "logged: fluids 0 l"."""
    assert shown_value("fluids", "fluids", parse_entry("fluids", "20", "ml")[2]) == "0.02 l"
    assert shown_value("fluids", "fluids", parse_entry("fluids", "2", "ml")[2]) == "0.002 l"


def test_advice_looks_back_over_the_rules_window_as_history_does(tmp_path, capsys):
    """`advice --rules r.toml` with a 7-day window looked 28 days back (its --days default
    overwrote the rules' window) while `history --rules r.toml` looked 7: the two disagreed."""
    import datetime as dt

    from myotwitch.host.cli import main
    from myotwitch.host.paths import data_dir

    rules = tmp_path / "r7.toml"
    text = (data_dir() / "advice" / "rules.toml").read_text(encoding="utf-8")
    rules.write_text(text.replace("window_days = 28 ", "window_days = 7 ", 1), encoding="utf-8")
    for days_ago in (20, 19, 2, 1):
        when = (dt.datetime.now() - dt.timedelta(days=days_ago)).strftime("%Y-%m-%d %H:%M")
        assert main(["log", "sleep", "4", "--at", when]) == 0

    def sleep_why(*argv):
        capsys.readouterr()
        assert main(["advice", "--json", *argv]) == 0
        return [i["why"] for i in json.loads(capsys.readouterr().out)["items"] if i["id"] == "selfcare-sleep"]

    assert sleep_why("--rules", str(rules)) == ["2 nights under 6 h of sleep in your diary (average 4.0 h)"]
    assert sleep_why() == ["4 nights under 6 h of sleep in your diary (average 4.0 h)"]
    assert sleep_why("--rules", str(rules), "--days", "28") == sleep_why()


def test_advice_help_teaches_what_it_reads_and_what_it_is_not(capsys):
    from myotwitch.host.cli import main

    with pytest.raises(SystemExit):
        main(["advice", "--help"])
    out = capsys.readouterr().out
    for words in ("SEE A DOCTOR ABOUT", "THINGS TO TRY", "GOOD TO KNOW", "myotwitch log", "myotwitch history",
                  "not a diagnosis", "rules.toml", "examples:"):
        assert words in out, words


def test_the_diary_list_shows_symptoms_as_history_does_and_keeps_its_columns(capsys):
    """`log --list` showed 'twitching_elsewhere' (history: 'twitching elsewhere'), one character
    wider than its column, so that row's note stood out of line."""
    from myotwitch.host.cli import main

    assert main(["log", "symptom", "twitching elsewhere", "--note", "left thumb", "--at", "2026-01-02 10:00"]) == 0
    assert main(["log", "sleep", "7", "--note", "ok", "--at", "2026-01-02 07:00"]) == 0
    assert main(["log", "symptom", "muscle loss", "--at", "2026-01-02 11:00"]) == 0
    capsys.readouterr()
    assert main(["log", "--list", "--days", "3650"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert "twitching elsewhere" in rows[1] and "twitching_elsewhere" not in rows[1]
    assert rows[0].index("ok") == rows[1].index("left thumb")
    assert rows[2].endswith("muscle loss")


def test_a_band_that_differs_by_sample_rate_says_how_to_count_alike():
    """Nights at 500 Hz beside one at 1 kHz, all with the default band, were told to "analyse
    the files again with one setting", though no setting had been chosen: the band's upper
    edge follows the rate. The note now names the --band that counts them alike."""
    from myotwitch.host.advice import counting_note, counting_summary

    def at(hi):
        return {"counting": {"detector": "energy", "energy_on_threshold": 5.8, "on_threshold": 5.0,
                             "min_twitch_uv": 15.0, "max_rest_floor_uv": 25.0, "band_low_hz": 20.0,
                             "band_high_hz": hi}}

    note = counting_note(counting_summary([at(225.0)] * 10 + [at(450.0)]))
    assert "band's upper edge 225 / 450 Hz; 10 / 1 files" in note
    assert note.endswith("to count them alike, analyse them again with --band 20-225.")
    other = at(450.0)
    other["counting"]["min_twitch_uv"] = 10.0
    assert counting_note(counting_summary([at(450.0), other])).endswith("Analyse the files again with one setting "
                                                                         "to compare them.")
