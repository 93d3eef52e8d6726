"""What the advice and the diary say to a person: numbers as they are, never a rounded-away
p-value or an amount shown as 0."""

import pytest

from myotwitch.host.advice import format_why, load_rules


def rule(rid):
    return next(r for r in load_rules().rules if r.id == rid)


@pytest.mark.parametrize("p, shown", [(0.00029, "p = 0.00029"), (0.0123, "p = 0.012"), (0.049, "p = 0.049")])
def test_the_worsening_rules_p_value_is_never_rounded_to_zero(p, shown):
    """A strong trend read "Kendall trend test p = 0.000", while `history` said 0.00029."""
    why = format_why(rule("consult-worsening").why, {"trend_start_rate": 45.0, "trend_end_rate": 315.0,
                                                      "trend_sessions": 10, "trend_p": p})
    assert shown in why and "p = 0.000)" not in why
