"""Advice rules: every rule fires on its example and not its near miss; metrics from
recordings and diary; the trend test ignores noise; rules stay in our own words; the diary
validates input and survives concurrent writers."""

import datetime as dt
import multiprocessing
import pathlib
import re

import numpy as np
import pytest

from myotwitch.host.advice import METRICS, advise, compute_metrics, evaluate, format_advice, load_rules
from myotwitch.host.advice_cmd import parse_entry, parse_when
from myotwitch.host.errors import FormatError, UsageError
from myotwitch.host.index import SessionIndex

RULES = load_rules()
ARTICLE = pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference" / "ankle-twitch-article.txt"
NOW = dt.datetime(2026, 11, 29, 12, 0)


@pytest.mark.parametrize("rule", RULES.rules, ids=lambda r: r.id)
def test_rule_fires_on_its_example_and_not_on_its_near_miss(rule):
    assert rule.example and rule.near_miss, "every rule needs a crafted case and a near miss"
    assert rule.id in [i.id for i in evaluate(RULES, rule.example)]
    assert rule.id not in [i.id for i in evaluate(RULES, rule.near_miss)]


def test_twitching_that_spreads_is_not_also_said_to_stay_in_one_spot():
    """Both items fired at once: "stays in one spot" beside "shows up in more places"."""
    one_spot = {**METRICS, "twitches_total": 100, "one_site_share": 1.0, "one_site": "gastrocnemius"}
    assert "info-nerve-irritation" in [i.id for i in evaluate(RULES, one_spot)]
    ids = [i.id for i in evaluate(RULES, {**one_spot, "spreading": True, "spreading_detail": "twitching elsewhere"})]
    assert "consult-spreading" in ids and "info-nerve-irritation" not in ids


def test_every_symptom_and_consult_sign_has_a_rule():
    text = " ".join(r.when for r in RULES.rules)
    for needed in ("persistent", "worsening", "spreading", "symptom_pain", "symptom_weakness", "symptom_numbness",
                   "symptom_muscle_loss", "symptom_coordination", "medication_linked"):
        assert needed in text
    assert {r.section for r in RULES.rules} == set(RULES.sections.values())  # every section is used


@pytest.mark.skipif(not ARTICLE.exists(), reason="reference article not present")
def test_sections_are_the_articles_headings():
    lines = {ln.strip() for ln in ARTICLE.read_text().splitlines()}
    for key, heading in RULES.sections.items():
        assert key == "opening" or heading in lines, heading


def _words(t):
    return re.findall(r"[a-z0-9]+", t.lower())


@pytest.mark.skipif(not ARTICLE.exists(), reason="reference article not present")
def test_no_sentence_is_copied_from_the_article():
    ref = _words(ARTICLE.read_text())
    grams = {tuple(ref[i:i + 7]) for i in range(len(ref) - 6)}
    for r in RULES.rules:
        w = _words(r.text + " " + r.why)
        copied = [" ".join(w[i:i + 7]) for i in range(len(w) - 6) if tuple(w[i:i + 7]) in grams]
        assert not copied, f"{r.id} copies the article: {copied[0]}"


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.replace('level = "consult"', 'level = "urgent"', 1), "level 'urgent' must be one of"),
    (lambda t: t.replace('when = "persistent"', 'when = "persistant"', 1), "unknown metric 'persistant'"),
    (lambda t: t.replace('when = "persistent"', 'when = "__import__(1)"', 1), "not allowed"),
    (lambda t: t.replace('id = "consult-worsening"', 'id = "consult-persistent"', 1), "defined twice"),
    (lambda t: t.replace('section = "other"', 'section = "chapter-9"', 1), "not a section"),
    (lambda t: t + "\n[[rule]]\nid = 'x'\n", "field 'section' must be a non-empty string"),
    (lambda t: t + "\n[[[", "not valid TOML"),
])
def test_invalid_rules_files_name_the_rule_and_field(tmp_path, mutate, message):
    p = tmp_path / "rules.toml"
    p.write_text(mutate(pathlib.Path(RULES.path).read_text()))
    with pytest.raises(FormatError, match=message):
        load_rules(p)


# -- metrics -----------------------------------------------------------------------------------------
def session(day, rate, hours=8.0, per_channel=None, channels=("gastrocnemius",), hour=23):
    start = NOW.replace(hour=hour) - dt.timedelta(days=day)
    n = int(round(rate * hours))
    return {"file": f"s{day}-{hour}", "start": start, "duration_s": hours * 3600, "valid_s": hours * 3600,
            "twitches": n, "twitches_per_hour": n / hours, "episodes": 1,
            "per_channel": list(per_channel or [n]), "channels": list(channels)}


def entry(days_ago, kind, name, value=None, hour=8):
    return {"time": NOW.replace(hour=hour) - dt.timedelta(days=days_ago), "kind": kind, "name": name, "value": value,
            "note": None}


def test_persistent_needs_most_days_over_two_weeks():
    yes = [session(d, 20) for d in range(16)]
    assert compute_metrics(yes, [], RULES, NOW)["persistent"]
    short = [session(d, 20) for d in range(10)]
    assert not compute_metrics(short, [], RULES, NOW)["persistent"]
    sparse = [session(d, 20 if d % 3 == 0 else 0) for d in range(16)]
    assert not compute_metrics(sparse, [], RULES, NOW)["persistent"]


def test_rising_rates_are_worsening():
    rng = np.random.default_rng(0)
    rising = [session(d, 10 + 3 * (14 - d) + rng.normal(0, 2)) for d in range(14)]
    m = compute_metrics(rising, [], RULES, NOW)
    assert m["worsening"] and m["trend_p"] < 0.05 and m["trend_end_rate"] > 1.5 * m["trend_start_rate"]


@pytest.mark.parametrize("seed", range(20))
def test_flat_noisy_rates_are_not_worsening(seed):
    rng = np.random.default_rng(seed)
    flat = [session(d, max(0.0, 20 + rng.normal(0, 8))) for d in range(14)]
    assert not compute_metrics(flat, [], RULES, NOW)["worsening"]


def test_a_new_site_is_spreading():
    early = [session(d, 20, per_channel=[160, 0], channels=("gastrocnemius", "soleus")) for d in range(10, 14)]
    late = [session(d, 20, per_channel=[100, 60], channels=("gastrocnemius", "soleus")) for d in range(0, 4)]
    m = compute_metrics(early + late, [], RULES, NOW)
    assert m["spreading"] and "soleus" in m["spreading_detail"]
    steady = [session(d, 20, per_channel=[100, 60], channels=("gastrocnemius", "soleus")) for d in range(14)]
    assert not compute_metrics(steady, [], RULES, NOW)["spreading"]


def test_twitching_elsewhere_in_the_diary_is_spreading():
    assert compute_metrics([], [entry(2, "symptom", "twitching_elsewhere")], RULES, NOW)["spreading"]


def test_caffeine_association_with_numbers():
    sessions, diary = [], []
    for d in range(12):
        high = d % 2 == 0
        sessions.append(session(d, 40 if high else 12, hour=22))
        diary.append(entry(d, "caffeine", "caffeine", 400 if high else 100))
    m = compute_metrics(sessions, diary, RULES, NOW)
    assert m["caffeine_association"] and m["caffeine_high_rate"] == pytest.approx(40) and m["caffeine_high_n"] == 6
    items = {i.id: i for i in evaluate(RULES, m)}
    assert "info-caffeine-association" in items and "40 twitches per hour" in items["info-caffeine-association"].why
    # no association when rates do not differ
    flat = [dict(s, twitches_per_hour=20.0) for s in sessions]
    assert not compute_metrics(flat, diary, RULES, NOW)["caffeine_association"]


def test_caffeine_logged_after_a_recording_did_not_come_before_it():
    """Evening sessions and a day's coffee logged after them counted as 'after a high-caffeine
    day'. Only what the diary logged before an afternoon or evening session counts for it; a
    night session (before noon) takes the whole day before."""
    sessions, diary = [], []
    for d in range(1, 9):
        sessions.append(session(d, 30, hour=18))  # 18:00; the coffee comes at 20:00
        diary.append(entry(d, "caffeine", "caffeine", 400, hour=20))
    m = compute_metrics(sessions, diary, RULES, NOW)
    assert (m["caffeine_high_n"], m["caffeine_low_n"]) == (0, 8)
    # the same coffee at 10:00 comes before each 18:00 session
    early = [dict(e, time=e["time"].replace(hour=10)) for e in diary]
    m = compute_metrics(sessions, early, RULES, NOW)
    assert (m["caffeine_high_n"], m["caffeine_low_n"]) == (8, 0)
    # a night session (02:00) takes the day before's whole diary, whenever in the day it was logged
    nights = [session(d, 30, hour=2) for d in range(0, 8)]
    m = compute_metrics(nights, diary, RULES, NOW)
    assert m["caffeine_high_n"] == 8


def test_medication_classes():
    m = compute_metrics([], [entry(1, "medication", "salbutamol"), entry(1, "medication", "sertraline 50mg")],
                        RULES, NOW)
    assert m["medication_linked"] == 2
    assert "asthma beta agonist" in m["medication_classes"] and "ssri" in m["medication_classes"]
    assert compute_metrics([], [entry(1, "medication", "paracetamol")], RULES, NOW)["medication_linked"] == 0


@pytest.mark.parametrize("logged, cls", [
    ("Prozac", "ssri"), ("zoloft 50mg", "ssri"), ("Lasix", "diuretic"), ("mixed amphetamine salts", "stimulant"),
    ("Elvanse 30mg", "stimulant"), ("Symbicort inhaler", "asthma beta agonist"), ("inhaler: salbutamol", "asthma beta agonist"),
])
def test_a_medicine_logged_by_its_brand_or_in_a_phrase_is_recognised(logged, cls):
    """The article's medicines (SSRIs, diuretics, stimulants, asthma relievers) logged as people
    read them off the box were not recognised, so the consult rule about them stayed silent."""
    m = compute_metrics([], [entry(1, "medication", logged.lower())], RULES, NOW)
    assert m["medication_linked"] == 1 and m["medication_classes"] == cls, m["medication_classes"]


def test_old_symptoms_do_not_count():
    assert compute_metrics([], [entry(20, "symptom", "weakness")], RULES, NOW)["symptom_weakness"] == 0
    assert compute_metrics([], [entry(3, "symptom", "weakness")], RULES, NOW)["symptom_weakness"] == 1


def test_consult_items_come_first_with_the_notice():
    a = advise([session(d, 25) for d in range(16)], [entry(1, "symptom", "numbness")], now=NOW)
    levels = [i.level for i in a.items]
    assert levels == sorted(levels, key=["consult", "self-care", "info"].index)
    assert levels[0] == "consult"
    text = format_advice(a)
    assert text.index("SEE A DOCTOR") < text.index("GOOD TO KNOW")
    assert "not a medical device" in text and "why: numbness logged 1 time" in text


def test_no_data_gives_only_the_notice():
    a = advise([], [], now=NOW)
    assert a.items == [] and "not a medical device" in format_advice(a)
    assert "No recordings from the last 28 days" in format_advice(a)


def test_no_advice_says_what_the_window_held():
    # an old recording analysed today is outside the window: not "no twitches recorded"
    old = advise([session(400, 30)], [], now=NOW)
    assert old.items == [] and "No recordings from the last 28 days" in format_advice(old)
    quiet = advise([session(2, 0), session(3, 0)], [], now=NOW)
    assert quiet.items == [], [i.id for i in quiet.items]
    assert "2 recordings in the last 28 days (no twitches): nothing in them" in format_advice(quiet)
    # two 20 s recordings give no rate: said so, not "no recordings"
    short = advise([session(2, 0, hours=20 / 3600), session(3, 0, hours=20 / 3600)], [], now=NOW)
    assert short.items == [] and "No recordings" not in format_advice(short)
    assert "2 recordings in the last 28 days, all too short to give a rate" in format_advice(short)


# -- diary -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (("symptom", "sparkles", None), "unknown symptom 'sparkles'"),
    (("caffeine", "-20", None), "expected a number of 0 or more"),
    (("caffeine", "nan", None), "expected a number of 0 or more"),
    (("caffeine", "lots", None), "is not a number"),
    (("caffeine", "2", "litres"), "caffeine unit"),
    (("sleep", "30", None), "at most 24 hours"),
    (("stress", "9", None), "stress 9: use a whole level, 1 (calm) to 5"),
    (("stress", "3.5", None), "stress 3.5: use a whole level, 1 (calm) to 5"),  # (had been kept as "3.5 of 5")
    (("stress", "0", None), "stress 0: use a whole level"),
    (("mood", "good", None), "unknown diary entry 'mood'"),
    (("sleep", None, None), "needs a value"),
    (("symptom", "x" * 5000, None), "unknown symptom '" + "x" * 39 + "…'"),  # (not the whole paste)
])
def test_bad_diary_input_is_one_clear_error(args, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_entry(*args)


def test_diary_units_and_words():
    assert parse_entry("caffeine", "2", "cups") == ("caffeine", "caffeine", 190.0)
    assert parse_entry("fluids", "500", "ml") == ("fluids", "fluids", 0.5)
    assert parse_entry("exercise", "hard", None) == ("exercise", "exercise", 3.0)
    assert parse_entry("symptom", "numb", None) == ("symptom", "numbness", None)


@pytest.mark.parametrize("phrase, name", [
    ("muscle weakness", "weakness"), ("Muscle Wasting", "muscle_loss"), ("loss of muscle mass", "muscle_loss"),
    ("muscle atrophy", "muscle_loss"), ("pins and needles", "numbness"), ("loss of balance", "coordination"),
    ("difficulty with coordination", "coordination"), ("calf pain", "pain"), ("twitching elsewhere", "twitching_elsewhere"),
])
def test_the_article_s_red_flags_are_understood_as_people_say_them(phrase, name):
    """`log symptom 'muscle weakness'` (or wasting, pins and needles, loss of balance) was
    refused as an unknown symptom: a red flag the consult rules look for could not be logged
    in the words people use for it."""
    assert parse_entry("symptom", phrase, None) == ("symptom", name, None)


@pytest.mark.parametrize("phrase, message", [
    ("pain and numbness", "names 2 symptoms (numbness, pain): log each as its own entry"),
    ("no pain", "unknown symptom 'no pain'"), ("weakness gone", "unknown symptom"),
])
def test_a_phrase_naming_several_symptoms_or_none_is_refused(phrase, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_entry("symptom", phrase, None)


@pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "29/11/2026", "", "  "])
def test_malformed_dates(text):
    with pytest.raises(UsageError, match="expected YYYY-MM-DD"):
        parse_when(text)


@pytest.mark.parametrize("text, said", [
    ("2026-10-25 02:30", "came twice on this computer's clock (at +02:00, then at +01:00 after the clocks went "
                         "back); say which with its UTC offset, e.g. '2026-10-25 02:30+01:00'"),
    ("2026-03-29 02:30", "never came on this computer's clock (the clocks went forward past it)"),
])
def test_a_diary_time_that_is_not_one_instant_on_this_computers_clock_is_refused(berlin, capsys, text, said):
    """A time without a zone is read on this computer's clock, as the history places recordings;
    in the hour the clocks went back it came twice (it had been stored as either, an hour off the
    other), and in the hour they went forward never: refused in one line, with a way out."""
    from myotwitch.host.cli import main

    with pytest.raises(UsageError, match=re.escape(said)):
        parse_when(text)
    assert main(["log", "sleep", "7", "--at", text]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and said in err
    with SessionIndex.default() as idx:
        assert idx.entries() == []


@pytest.mark.parametrize("text, local", [
    ("2026-10-25 01:30", dt.datetime(2026, 10, 25, 1, 30)),  # (no zone: this computer's clock, as written)
    ("2026-10-25 02:30+01:00", dt.datetime(2026, 10, 25, 2, 30)),  # (the second 02:30, said so)
    ("2026-10-25T00:30Z", dt.datetime(2026, 10, 25, 2, 30)),  # (the first 02:30, in UTC)
    ("2026-11-01 22:00 -0500", dt.datetime(2026, 11, 2, 4, 0)),  # (New York's evening, on this clock)
])
def test_a_diary_time_with_a_utc_offset_is_placed_on_this_computers_clock(berlin, text, local):
    assert parse_when(text) == local


def _writer(path, who, n):
    idx = SessionIndex(path)
    for i in range(n):
        idx.add_entry(dt.datetime(2026, 11, 1) + dt.timedelta(minutes=i), "caffeine", "caffeine", float(i), who)
        if who == "recorder":
            idx.add_session(file=f"/rec/{i}.edf", start=dt.datetime(2026, 11, 1) + dt.timedelta(hours=i),
                            duration_s=3600, twitches=i)
    idx.close()


def test_diary_survives_concurrent_writers(tmp_path):
    path = tmp_path / "db.sqlite"
    SessionIndex(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, who, 60)) for who in ("recorder", "cli", "cli2", "gui")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with SessionIndex(path) as idx:
        assert len(idx.entries()) == 240
        assert len(idx.sessions()) == 60


def test_log_cli_round_trip(capsys):
    from myotwitch.host.cli import main

    assert main(["log", "caffeine", "250", "--at", "2026-11-28 09:00"]) == 0
    assert main(["log", "symptom", "weakness", "--note", "left calf"]) == 0
    assert main(["log", "--list", "--days", "3650"]) == 0
    out = capsys.readouterr().out
    assert "caffeine" in out and "weakness" in out and "left calf" in out
    first = int(re.search(r"logged #(\d+): caffeine", out).group(1))
    assert main(["log", "--edit", str(first), "--set-value", "100"]) == 0
    assert main(["log", "--delete", str(first)]) == 0
    assert main(["log", "--delete", "9999"]) == 2
    assert "no diary entry with id 9999" in capsys.readouterr().err
    assert main(["advice"]) == 0
    assert "SEE A DOCTOR ABOUT" in capsys.readouterr().out


def test_metrics_used_by_rules_exist():
    for r in RULES.rules:
        for name in re.findall(r"[a-z_]+", r.when):
            assert name in METRICS or name in ("and", "or", "not")


def test_the_diary_shows_values_as_they_were_meant(capsys):
    """`log exercise hard` was listed as 'exercise 3', 5 minutes of sleep as '0.0833333 h'."""
    from myotwitch.host.cli import main

    assert main(["log", "exercise", "hard"]) == 0
    assert main(["log", "sleep", "5", "--unit", "min"]) == 0
    assert main(["log", "sleep", "7.333333"]) == 0
    assert main(["log", "stress", "4"]) == 0
    out = capsys.readouterr().out
    assert "exercise hard" in out and "sleep 5 min" in out and "sleep 7.33 h" in out and "stress 4 of 5" in out
    assert main(["log", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "hard" in listed and "5 min" in listed and "0.08" not in listed
    assert main(["log", "exercise", "extreme"]) == 2
    assert "exercise 'extreme': use none, light, moderate or hard" in capsys.readouterr().err
    assert main(["log", "--list", "--note", "x"]) == 2  # (the note was dropped without a word)
    assert "--note goes with an entry to add or --edit ID, not --list" in capsys.readouterr().err
    assert main(["log", "--at", "2026-12-01"]) == 2  # no entry: `log` lists, and the time was dropped
    assert "--at goes with an entry to add or --edit ID, not --list (what `log` does with no entry)" in \
        capsys.readouterr().err


def test_a_night_logged_in_two_parts_is_one_night():
    """Two sleep entries on one day (a night and a nap) counted as two short nights in advice,
    while history drew them as one day's sleep."""
    split = [entry(d, "sleep", "sleep", 3.5, hour=h) for d in (1, 2, 3) for h in (7, 15)]  # 7 h a day
    m = compute_metrics([session(1, 10)], split, RULES, NOW)
    assert m["short_sleep_nights"] == 0 and m["sleep_avg_h"] == pytest.approx(7.0)
    short = split + [entry(4, "sleep", "sleep", 4.0), entry(5, "sleep", "sleep", 5.0, hour=9)]
    m = compute_metrics([session(1, 10)], short, RULES, NOW)
    assert m["short_sleep_nights"] == 2 and m["sleep_avg_h"] == pytest.approx((3 * 7.0 + 4.0 + 5.0) / 5)
    # ... and the sleep-twitch association reads the same nights: a 7.5 h night and a 1 h nap
    # before each recording is no short night
    napped = [entry(d, "sleep", "sleep", v, hour=h) for d in range(1, 9) for v, h in ((7.5, 7), (1.0, 15))]
    m = compute_metrics([session(d, 10, hour=23) for d in range(1, 9)], napped, RULES, NOW)
    assert m["sleep_short_n"] == 0 and m["sleep_long_n"] == 8


def test_empty_diary_words_are_refused_and_odd_amounts_questioned(capsys, caplog):
    """`log '' 3` listed the diary, `--at ''` meant now, `history --before ''` was ignored;
    `caffeine 2` was 2 mg without a word, and `sleep 0` read '0 min' among hours."""
    from myotwitch.host.cli import main

    assert main(["log", "", "3"]) == 2 and "diary entry '': expected one of" in capsys.readouterr().err
    assert main(["history", "--before", ""]) == 2 and "--before '': expected a date" in capsys.readouterr().err
    assert main(["log", "caffeine", "2"]) == 0
    assert "if you meant cups, give `log caffeine 2 --unit cups`" in caplog.text
    caplog.clear()
    assert main(["log", "caffeine", "2", "--unit", "cups"]) == 0 and "meant cups" not in caplog.text
    assert main(["log", "sleep", "0"]) == 0 and "sleep 0 h" in capsys.readouterr().out


def test_history_shows_diary_values_as_the_diary_does():
    from myotwitch.host.history import diary_text

    text = diary_text({"sleep": 20 / 3, "exercise": 2.0, "stress": 10 / 3, "caffeine": 190.0, "fluids": None,
                       "symptoms": [], "medication": []})
    assert text == "caffeine 190 mg, sleep 6.67 h, stress 3.3 of 5, exercise moderate"


@pytest.mark.parametrize("argv", [["log", "--list", "--days", "3651"], ["advice", "--days", "3651"],
                                  ["history", "--days", "3651"], ["log", "sleep", "7", "--at", "2000-01-01"]])
def test_every_look_back_has_the_one_ten_year_bound(argv, capsys):
    # log and advice took 100 years where history took 10; a diary entry older than the
    # history can look back could be logged but never listed
    from myotwitch.host.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "3650" in err or "10 years ago" in err, err


def night_in_files(day, rates, minutes=60.0, tail_min=3.0, tail_rate=150.0, units=()):
    """One night as a recorder with ``--rotate 1h`` leaves it: hourly files one after the other
    (the rates given), and a short last one."""
    out, start = [], NOW.replace(hour=23) - dt.timedelta(days=day)
    for i, (mins, rate) in enumerate([(minutes, r) for r in rates] + [(tail_min, tail_rate)]):
        n = int(round(rate * mins / 60))
        out.append({"file": f"night{day}-{i}.edf", "start": start, "duration_s": mins * 60, "valid_s": mins * 60,
                    "twitches": n, "twitches_per_hour": n / (mins / 60), "episodes": 1, "per_channel": [n],
                    "channels": ["gastrocnemius"], "units": [dict(u) for u in units]})
        start += dt.timedelta(minutes=mins)
    return out


def test_a_nights_rotated_files_are_one_session_to_the_rules():
    """A QA night with --rotate 1h: eight files with the rate rising through the night read as
    a trend worsening over sessions, and the latest rate was a 3-minute tail file's."""
    night = night_in_files(0, [10, 15, 20, 30, 40, 55, 70, 90])
    m = compute_metrics(night, [], RULES, NOW)
    assert m["sessions"] == 1 and not m.get("worsening")
    twitches = sum(s["twitches"] for s in night)
    assert m["twitches_total"] == twitches
    assert m["rate_latest"] == pytest.approx(twitches / (8 + 3 / 60))  # the night's, not its tail's 150/h
    # nights on days of their own stay sessions of their own: a rise over them is a trend
    nights = [s for d, r in zip(range(8, 0, -1), (10, 15, 20, 30, 40, 55, 70, 90)) for s in night_in_files(d, [r] * 8)]
    m = compute_metrics(nights, [], RULES, NOW)
    assert m["sessions"] == 8 and m["worsening"]
    # a file after a longer pause, or with other channels, is another recording
    other = night_in_files(0, [20, 20])
    for s in other[1:]:
        s["start"] += dt.timedelta(minutes=30)
    assert compute_metrics(other, [], RULES, NOW)["sessions"] == 2
    other = night_in_files(0, [20, 20])
    for s in other[1:]:
        s["channels"] = ["soleus"]
    assert compute_metrics(other, [], RULES, NOW)["sessions"] == 2


def test_a_unit_in_two_files_of_one_night_is_seen_in_one_session():
    """A new unit must be seen in ``new_unit_min_sessions`` sessions: a night's hourly files had
    been that many."""
    from myotwitch.host.advice import recordings

    u = {"unit": "U1", "known_as": "calf-3", "count": 4}
    joined = recordings(night_in_files(0, [20, 20], units=[u]))
    assert len(joined) == 1 and joined[0]["units"] == [{"unit": "U1", "known_as": "calf-3", "count": 12}]
    assert joined[0]["files"] == ["night0-0.edf", "night0-1.edf", "night0-2.edf"]


def test_two_sensors_recorded_at_once_are_two_recordings():
    """Two sensors (one on each calf, the same channel names) recorded the same night, each in
    hourly files rotated on the hour: the files had joined in turns, left-right-left, one
    recording of both that ended when the right one's files stopped lining up. Each file now
    continues its own device's recording; without device ids (rows from before), the one it
    follows most closely."""
    from myotwitch.host.advice import recordings

    left, right = night_in_files(0, [20, 20, 20]), night_in_files(0, [60, 60, 60])
    for s in left:
        s["device"] = "0000a1"
    for s in right:
        s["device"] = "0000b2"
        s["file"] = "right-" + s["file"]
    joined = recordings(sorted(left + right, key=lambda s: s["start"]))
    assert [r["files"] for r in joined] == [[s["file"] for s in left], [s["file"] for s in right]]
    assert [r["twitches"] for r in joined] == [sum(s["twitches"] for s in left), sum(s["twitches"] for s in right)]
    # no device ids, the right sensor started 5 minutes later: each file follows its own
    for s in left + right:
        s.pop("device")
    for s in right:
        s["start"] += dt.timedelta(minutes=5)
    joined = recordings(sorted(left + right, key=lambda s: s["start"]))
    assert [r["files"] for r in joined] == [[s["file"] for s in left], [s["file"] for s in right]]


def test_the_history_says_the_worsening_rule_over_the_recordings_it_tested():
    """The rule tests a night's rotated files as one session; the history's statement of it had
    counted the files: one night of nine files read "not tested: every session has the same
    rate" (it needs 6 sessions; there was one), and a tested trend "over 72 sessions" (8)."""
    from myotwitch.host.history import build_history, rule_statements

    def worsening(sessions):
        h = build_history(sessions, [], RULES, days=28, now=NOW)
        [text] = [t for rule, _, t in rule_statements(h) if rule == "worsening"]
        return h, text

    h, text = worsening(night_in_files(0, [10, 15, 20, 30, 40, 55, 70, 90]))
    assert "needs at least 6 dated sessions, 1 recorded" in text, text
    nights = [s for d, r in zip(range(8, 0, -1), (10, 15, 20, 30, 40, 55, 70, 90)) for s in night_in_files(d, [r] * 8)]
    h, text = worsening(nights)
    assert h["rules"]["worsening"]["fires"] and "over 8 recordings" in text, text
    # the advice's reason counts them alike (it had said "over 8 sessions" beside a history of
    # 64 files, 8 recordings)
    [why] = [i["why"] for i in h["advice"]["items"] if "Kendall" in (i.get("why") or "")]
    assert "over 8 recordings" in why, why
    # the line is drawn to where the rate was fitted: the last recording's start, not its last file's
    assert h["rules"]["worsening"]["line"]["to"] == nights[-9]["start"].isoformat()
    # and the halves the spreading rule compares are split at its middle recording, not file
    nights = [s for d, r in zip(range(8, 0, -1), (10, 15, 20, 30, 40, 55, 70, 90))
              for s in night_in_files(d, [r] * (2 if d > 4 else 8))]
    h, _ = worsening(nights)
    assert h["rules"]["spreading"]["split_at"] == nights[4 * 3]["start"].isoformat()


def test_a_short_file_after_an_unplug_does_not_part_a_night_in_two():
    """Files too short to give a rate were left out before the night's files were joined: a
    30-second file between two hours 15 minutes apart made the night two recordings."""
    night = night_in_files(0, [20, 20], tail_min=0.5, tail_rate=20)  # hour, hour, 30 s
    last = dict(night[0], file="after.edf", start=night[-1]["start"] + dt.timedelta(minutes=10, seconds=18))
    m = compute_metrics([*night, last], [], RULES, NOW)
    # (and it counts as part of the night, not as a recording too short to give a rate)
    assert m["sessions"] == 1 and m["short_sessions"] == 0
    # without the short file the pause is over 10 minutes: two recordings
    assert compute_metrics([*night[:2], last], [], RULES, NOW)["sessions"] == 2
