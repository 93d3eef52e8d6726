"""Hostile or broken rules files fail on load with one clear line; `why` templates get plain
values only; diary entries from the future never count."""

import datetime as dt
import pathlib
import re

import pytest

from myotwitch.host.advice import Rule, RuleSet, advise, compute_metrics, evaluate, load_rules
from myotwitch.host.errors import FormatError

RULES = load_rules()
TEXT = pathlib.Path(RULES.path).read_text(encoding="utf-8")


def write(tmp_path, text, encoding="utf-8"):
    p = tmp_path / "rules.toml"
    p.write_bytes(text.encode(encoding))
    return p


@pytest.mark.parametrize("name, mutate, message", [
    ("deep nesting", lambda t: t + "\nx = " + "[" * 5000 + "]" * 5000 + "\n", r"nested too deeply|unknown key"),
    ("notice is a number", lambda t: re.sub(r'notice = """.*?"""', "notice = 5", t, flags=re.S), "'notice' must be"),
    ("missing threshold", lambda t: t.replace("short_sleep_h = 6 ", "", 1), "missing 'short_sleep_h'"),
    ("threshold is text", lambda t: t.replace("short_sleep_h = 6 ", 'short_sleep_h = "six" ', 1),
     "'short_sleep_h' must be a number"),
    ("text compared to a number", lambda t: t.replace('when = "persistent"', 'when = "symptoms_list > 3"', 1),
     "compares text with a number"),
    ("positional why field", lambda t: t.replace('why = "twitches on {twitch_days}', 'why = "twitches on {0}', 1),
     "'{0}' is not a metric"),
    ("attribute in why", lambda t: t.replace("{twitch_days}", "{rate_latest.__class__}", 1),
     r"'\{rate_latest.__class__\}' is not a metric"),
    ("unknown metric in why", lambda t: t.replace("{twitch_days}", "{secret}", 1), r"'\{secret\}' is not a metric"),
    ("bad format spec", lambda t: t.replace("{trend_p:.2g}", "{trend_p:.3q}", 1), "cannot be evaluated"),
    ("medications not lists", lambda t: t.replace('stimulant = ["methylphenidate"', 'stimulant = 3 #', 1),
     r"\[medications\]"),
])
def test_malformed_rules_fail_on_load_with_one_line(tmp_path, name, mutate, message):
    with pytest.raises(FormatError, match=message) as e:
        load_rules(write(tmp_path, mutate(TEXT)))
    assert "\n" not in str(e.value) and str(e.value).startswith("rules.toml")


def test_latin1_rules_file_is_one_clear_line(tmp_path):
    text = TEXT.replace("Your twitching", "Vos crampes à répétition", 1)
    with pytest.raises(FormatError, match="not UTF-8"):
        load_rules(write(tmp_path, text, "latin-1"))


def test_why_gets_plain_values_only():
    from myotwitch.host.advice import format_why

    assert format_why("{rate_latest:.0f} per hour", {"rate_latest": 12.4}) == "12 per hour"
    with pytest.raises(ValueError):
        format_why("{rate_latest.__class__}", {"rate_latest": 1.0})
    with pytest.raises(ValueError):
        format_why("{rate_latest[0]}", {"rate_latest": 1.0})
    # a rule smuggled in past the loader still cannot reach attributes
    sneaky = Rule("x", "s", "info", "sessions >= 0", "t", why="{rate_latest.__class__.__mro__}")
    items = evaluate(RuleSet("n", {}, RULES.definitions, {}, [sneaky]), {})
    assert items[0].why == ""


NOW = dt.datetime(2026, 11, 20, 12, 0)


def test_diary_entries_in_the_future_do_not_count():
    future = [{"time": dt.datetime(2099, 1, 1), "kind": "symptom", "name": "weakness", "value": None, "note": None}]
    m = compute_metrics([], future, RULES, NOW)
    assert m["symptom_weakness"] == 0
    assert not [i for i in advise([], future, ruleset=RULES, now=NOW).items if i.level == "consult"]


def test_a_huge_window_is_clamped_not_an_overflow():
    rules = load_rules()
    rules.definitions["window_days"] = 999_999_999
    sleep = [{"time": NOW - dt.timedelta(days=1), "kind": "sleep", "name": "sleep", "value": 5.0, "note": None}]
    m = compute_metrics([], sleep, rules, NOW)
    assert m["short_sleep_nights"] == 1
