"""The unit stage's merge check skips its exact fit only when recorded margins prove the fit
would pass no template (``UnitTracker._merge_ruled_out``): whatever the templates, their noise
and member counts do after the margins were recorded, a proof must never hide a pass."""

import copy

import numpy as np
import pytest

from myotwitch.dsp.units import UnitTracker, _Template


def _shape(rng, n):
    """A smooth biphasic/triphasic waveform of length n (one channel)."""
    x = np.arange(n, dtype=float)
    w = np.zeros(n)
    for _ in range(int(rng.integers(1, 4))):
        c = rng.uniform(0.3, 0.7) * n
        width = rng.uniform(0.03, 0.12) * n
        w += rng.normal() * (x - c) / width * np.exp(-0.5 * ((x - c) / width) ** 2)
    return w / np.abs(w).max()


def _templates(rng, tr, k_count):
    """Templates built from a few shapes, scaled, shifted and noisy, so that some pairs pass
    the exact check, some fail narrowly and some by far."""
    C, L = tr.n_channels, tr.L
    bases = [np.stack([_shape(rng, L) * rng.uniform(0.3, 1.0) for _ in range(C)]) for _ in range(3)]
    out = []
    for i in range(k_count):
        b = bases[int(rng.integers(len(bases)))]
        w = np.roll(b, int(rng.integers(-3, 4)), axis=1) * rng.uniform(40.0, 400.0)
        if out and rng.random() < 0.4:  # near-identical to an earlier one
            w = out[int(rng.integers(len(out)))].wave.reshape(C, L) * rng.uniform(0.9, 1.1)
        w = w + rng.normal(0.0, rng.choice([0.5, 3.0, 15.0]), w.shape)
        t = _Template(w.reshape(-1), int(rng.integers(1, 60)), i, (i, 0, 1.0), 0, rng.uniform(3.0, 6.0, C))
        out.append(t)
    return out


def _exact_passes(tr, k):
    """The exact check's verdicts now, leaving the recorded margins as they were."""
    t = tr._templates[k]
    kept = t.margins
    fit = tr._merge_fit(k)
    t.margins = kept
    return [] if fit is None else fit[2]


@pytest.mark.parametrize("n_ch,fs", [(1, 1000.0), (1, 2000.0), (2, 1000.0), (3, 500.0)])
def test_margins_never_rule_out_a_passing_template(n_ch, fs):
    rng = np.random.default_rng(int(fs) + n_ch)
    tr = UnitTracker(fs, n_ch)
    ruled = passed = ruled_later = 0
    for _ in range(60):
        tr._templates = _templates(rng, tr, int(rng.integers(2, 9)))
        tr._stack = None
        k = int(rng.integers(len(tr._templates)))
        t = tr._templates[k]
        passes = _exact_passes(tr, k)
        tr._merge_fit(k)  # records the margins
        inv = (1.0 / t.sigma).tolist()
        now = tr._merge_ruled_out(k, inv)
        assert not (now and any(passes))
        ruled += now
        passed += any(passes)
        # then the templates move, t's noise changes, members join, templates come and go; the
        # margins stay
        for _ in range(8):
            u = rng.random()
            if u < 0.15 and len(tr._templates) > 2:
                gone = tr._templates[int(rng.integers(len(tr._templates)))]
                if gone is not t:
                    tr._templates.remove(gone)
            elif u < 0.3:
                new = _templates(rng, tr, 1)[0]
                if rng.random() < 0.5:  # near t
                    new.wave = t.wave * rng.uniform(0.8, 1.2) + rng.normal(0.0, 2.0, t.wave.shape)
                new.created = 1000 + int(rng.integers(10**6))
                tr._templates.append(new)
            k = tr._templates.index(t)
            i = int(rng.integers(len(tr._templates)))
            o = tr._templates[i]
            scale = rng.choice([0.05, 0.5, 2.0, 10.0])
            if rng.random() < 0.2:  # towards t: a pass the margins must not hide
                o.wave = o.wave + (t.wave - o.wave) * rng.uniform(0.2, 1.0)
            else:
                o.wave = o.wave + rng.normal(0.0, scale, o.wave.shape)
            o.n += int(rng.integers(0, 3))
            if rng.random() < 0.5:
                t.sigma = t.sigma * rng.uniform(0.97, 1.03, n_ch)
            tr._stack = None
            later = tr._merge_ruled_out(k, (1.0 / t.sigma).tolist())
            passes = _exact_passes(tr, k)
            assert not (later and any(passes))
            ruled_later += later
            passed += any(passes)
    assert ruled > 5 and ruled_later > 5 and passed > 5  # the property was tested both ways


def test_ruling_out_follows_removed_and_added_templates():
    """Margins are kept by template identity: a removed template does not matter, a new one
    (without a margin) means the exact fit runs."""
    rng = np.random.default_rng(7)
    tr = UnitTracker(1000.0, 1)
    tr._templates = _templates(rng, tr, 6)
    for t in tr._templates:  # far apart: different shapes and sizes
        t.wave = t.wave * 0.0
    for i, t in enumerate(tr._templates):
        t.wave = np.roll(np.concatenate([_shape(rng, tr.L // 2), np.zeros(tr.L - tr.L // 2)]), 7 * i) * 100.0 * (i + 1)
    tr._stack = None
    tr._merge_fit(0)
    assert tr._merge_ruled_out(0, (1.0 / tr._templates[0].sigma).tolist())
    tr._templates.pop(3)
    tr._stack = None
    assert tr._merge_ruled_out(0, (1.0 / tr._templates[0].sigma).tolist())
    new = copy.deepcopy(tr._templates[1])  # new: no margin yet, so the exact fit runs
    new.created = 99
    tr._templates.append(new)
    tr._stack = None
    assert not tr._merge_ruled_out(0, (1.0 / tr._templates[0].sigma).tolist())
