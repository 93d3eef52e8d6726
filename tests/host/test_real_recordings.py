"""The detector on real recordings it was never tuned on (issue #15, item 4).

Every shipped recording is real voluntary activity, movement, walking or a needle recording
of a working muscle, so the right number of twitches is 0; synthetic twitches injected into their real quiet stretches must be found.
Cases the current detector fails are strict xfails: when a detector change makes one pass,
pytest reports XPASS as a failure, and the marker comes off (benchmarks/real_recordings.py
prints the numbers)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy import signal

from myotwitch.host.edf import EdfReader
from myotwitch.host.realdata import (
    ACTIVITIES,
    INJECT_MARGIN_S,
    evaluate,
    inject,
    manifest,
    noise_rms,
    recordings_dir,
    twitches_in,
)

MANIFEST = manifest()
RECORDINGS = {r.file: r for r in MANIFEST.recordings}
WITH_QUIET = [r for r in MANIFEST.recordings if r.quiet]
SEEDS = (0, 1, 2, 3)  # ~170 injected twitches in all

#: false twitches the shape-aware detector still reports (the envelope detector
#: before issue #15 reported 5, 15, 15, 9, 17 and 15 on these files); strict, so an
#: improvement must update this table. The 8-bit file's one (16.56 s, a recruitment
#: potential whose background measures 2.49x rest against a limit of 2.5) was reported as
#: "ADC clipping" until flat tops on quantised traces had to be longer than chance allows:
#: right count, wrong reason, so it is listed here rather than hidden.
CURRENT_FALSE_TWITCHES = {
    # (the cyclic biceps file's last one, 3.56 s in its first pause, went when the recurrence
    # test tried the average of a weak unit's firings; the two at 10.0 and 19.7 s when the rest
    # level came to follow those pauses, and the flexion file's one (13.26 s, 0.2 s before a
    # contraction) when the floor dropped up to 4x after activity)
    "thumb-adductor-contractions.edf": 1,
    # (treadmill walking's 45 ms burst at 1.41 s, before the detector has seen enough strides to
    # call the rhythm walking, went when a potential of more than 7 phases became activity)
    # the quiet baseline near the converter's floor: a 15.1 µV potential at 35.76 s, just before
    # its second weak activation (8 of 10-15 µV before the smallest twitch counted rose from 10
    # to 15 µV; issue #15 allows this file 2)
    "biosppy-quiet-baseline.edf": 1,
}


@cache
def _as_recorded(name):
    """The detector's result on the file as it is (shared by the tests that only count)."""
    return evaluate(RECORDINGS[name], seeds=())


def _voluntary_params():
    for name in RECORDINGS:
        n = CURRENT_FALSE_TWITCHES.get(name, 0)
        marks = [pytest.mark.xfail(strict=True, reason=f"current detector: {n} false twitches; issue #15")
                 ] if n > RECORDINGS[name].expected_max_twitches else []
        yield pytest.param(name, marks=marks, id=name.removesuffix(".edf"))


def test_manifest_describes_the_files_shipped():
    assert MANIFEST.recordings, "no recordings in the manifest"
    sources = (recordings_dir() / "SOURCES.md").read_text(encoding="utf-8")
    shipped = {p.name for p in recordings_dir().glob("*.edf")}
    assert shipped == set(RECORDINGS), "every EDF in data/recordings/ has a manifest entry and vice versa"
    for rec in MANIFEST.recordings:
        assert rec.activity in ACTIVITIES
        assert rec.file in sources, f"SOURCES.md says nothing about {rec.file}"
        assert rec.licence and rec.source
        reader = EdfReader(rec.path)
        assert reader.fs == rec.fs_hz
        assert reader.duration_s == pytest.approx(rec.duration_s, abs=1 / rec.fs_hz)
        assert reader.units == ["uV"]
        x, _ = reader.read_all()
        assert not np.isnan(x).any()
        # real EMG in µV: on the skin, a floor of a few µV RMS (quietest 100 ms windows of the
        # band-passed signal) and activity of hundreds (a quiet baseline: of tens at most);
        # through a needle in a working muscle, no quiet window at all (tens of µV at the least)
        y = signal.sosfiltfilt(signal.butter(2, [20, 450], "bandpass", fs=reader.fs, output="sos"), x[0])
        w = int(0.1 * reader.fs)
        windows = y[: len(y) // w * w].reshape(-1, w)
        least, most = (20, 300) if rec.activity == "intramuscular" else (0.5, 20)
        assert least < np.percentile(np.sqrt(np.mean(windows ** 2, axis=1)), 5) < most, rec.file
        assert np.abs(y).max() > 100 if rec.activity != "quiet" else 5 < np.abs(y).max() < 100


@pytest.mark.parametrize("name", _voluntary_params())
def test_voluntary_activity_yields_no_twitches(name):
    # issue #15, "Done when": real voluntary activity, walking and intramuscular motor-unit
    # trains give 0 twitches (expected_max_twitches in the manifest)
    rec = RECORDINGS[name]
    res = _as_recorded(name)
    assert res.twitches <= rec.expected_max_twitches, [
        (round(e.onset_s, 3), round(e.peak_to_peak_uv, 1)) for e in res.events if e.kind == "twitch"]


def test_false_twitches_on_voluntary_recordings_never_grow():
    # the ratchet under the strict xfails above: no file may get worse than the table says
    for name in RECORDINGS:
        assert _as_recorded(name).twitches <= CURRENT_FALSE_TWITCHES.get(name, 0), name


def test_single_motor_unit_trains_yield_no_twitches():
    # issue #15, item 2: a sparse, regular train of similar potentials at ~5-30 Hz is a motor
    # unit under voluntary control, even when it never builds an envelope
    tonic = [r for r in MANIFEST.recordings if r.tonic]
    assert sum(b - a for r in tonic for a, b in r.tonic) > 20
    found = sum(_as_recorded(r.file).tonic_twitches for r in tonic)
    assert found == 0


def test_quiet_stretches_stay_quiet():
    # issue #15, "Done when": a quiet baseline gives at most 2 twitches per 100 s
    quiet_s = sum(r.quiet_s for r in WITH_QUIET)
    assert quiet_s > 30
    found = sum(_as_recorded(r.file).quiet_twitches for r in WITH_QUIET)
    assert found <= MANIFEST.quiet_max_twitches_per_100s * quiet_s / 100


def test_injection_touches_only_the_quiet_stretches():
    rec = RECORDINGS["thumb-adductor-contractions.edf"]
    x, fs = rec.load()
    rms = noise_rms(x, fs, rec.quiet)
    assert 1.0 < rms < 4.0  # the stretches really are quiet (band-passed µV RMS)
    inj = inject(x, fs, rec.quiet, rms, seed=5, size=(10.0, 20.0))
    assert len(inj.onsets_s) >= 30
    assert all(any(a + INJECT_MARGIN_S <= t < b for a, b in rec.quiet) for t in inj.onsets_s)
    assert ((inj.ptp_uv >= 10 * rms) & (inj.ptp_uv <= 20 * rms)).all()
    changed = np.flatnonzero(inj.signal != x) / fs
    assert all(any(a <= t < b for a, b in rec.quiet) for t in changed)
    # each injected potential has the size asked for
    i = int(round(inj.onsets_s[0] * fs))
    added = (inj.signal - x)[i - 5: i + int(0.04 * fs)]
    assert np.ptp(added) == pytest.approx(inj.ptp_uv[0], rel=1e-6)


@cache
def _injected(size):
    found = injected = extra = 0
    for rec in WITH_QUIET:
        res = evaluate(rec, seeds=SEEDS, size=size)
        found, injected, extra = found + res.found, injected + res.injected, extra + res.extra
    return found / injected, extra


@pytest.mark.parametrize("size, min_recall", [
    # issue #15 item 4 brief: 10-20x the noise RMS, recall >= 0.9
    # (0.88 until the floor dropped soon after activity, 0.95 since)
    pytest.param((10.0, 20.0), 0.90, id="10-20x-brief"),
    # issue #15, "Done when": recall >= 0.98 at >= 10x and >= 0.90 at 8-10x
    pytest.param((10.0, 20.0), 0.98, marks=pytest.mark.xfail(
        strict=True, reason="current detector: recall 0.95 at 10-20x (was 0.85); issue #15"), id="10-20x-issue"),
    pytest.param((8.0, 10.0), 0.90, marks=pytest.mark.xfail(
        strict=True, reason="current detector: recall 0.61 at 8-10x (0.66 with the smallest twitch counted at 10 "
                                 "µV, 0.56 before the shape filters); issue #15"), id="8-10x-issue"),
    # large twitches on real background: the current detector finds them all; keep it so
    pytest.param((20.0, 40.0), 0.98, id="20-40x"),
])
def test_injected_twitches_are_found(size, min_recall):
    recall, _ = _injected(size)
    assert recall >= min_recall


@pytest.mark.parametrize("size", [(8.0, 10.0), (10.0, 20.0)])
def test_injected_twitches_add_no_extra_twitches(size):
    # issue #15 item 4 brief: no extra twitches in the quiet stretches
    _, extra = _injected(size)
    assert extra == 0


def test_twitches_in_counts_only_twitches_inside_the_stretches():
    from myotwitch.dsp.events import Event

    def ev(t, kind="twitch"):
        return Event(t, t + 0.01, 10.0, 50.0, 20.0, 0, kind)

    got = twitches_in([ev(0.5), ev(1.5), ev(2.5, "contraction"), ev(3.0)], ((1.0, 2.0), (2.0, 3.0)))
    assert [e.onset_s for e in got] == [1.5]
