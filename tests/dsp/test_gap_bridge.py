"""Short gaps are bridged: a link that loses a frame now and then (BLE under load) had blinded
the detector for 0.15 s after each gap while its filters restarted, so 5 % of 20 ms frames
lost cost about two thirds of the twitches. Up to ``bridge_gap_s`` the filters, the noise
floor and the mains canceller run on across the gap, and only what overlaps it is lost."""

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from myotwitch.dsp import DetectorConfig, Pipeline, detect
from myotwitch.dsp.evaluate import matched_flags
from myotwitch.dsp.mains import MainsCanceller
from myotwitch.dsp.synth import case_spec, muap, synthesize


def _lose_frames(x: np.ndarray, fs: float, share: float, seed: int, frame_s: float = 0.02) -> np.ndarray:
    """``x`` with ``share`` of its frames lost (NaN), from the start (while the floor is learnt
    and the mains decided) on."""
    x = x.astype(np.float64).copy()
    fr = int(round(frame_s * fs))
    lost = np.random.default_rng(seed).random(x.shape[1] // fr) < share
    for i in np.flatnonzero(lost):
        x[:, i * fr: (i + 1) * fr] = np.nan
    return x


def _in_blocks(x: np.ndarray, fs: float, block: int, cfg: DetectorConfig | None = None):
    pipe = Pipeline(fs, x.shape[0], cfg)
    events = [e for i in range(0, x.shape[1], block) for e in pipe.process(x[:, i: i + block])]
    return events + pipe.flush(), pipe


@pytest.mark.parametrize("case, fs", [("clean_rest", 1000.0), ("mains_50", 2000.0)])
def test_frames_lost_now_and_then_cost_only_the_twitches_they_touch(case, fs):
    x, truth = synthesize(case_spec(case, fs, 120.0, seed=5).with_(twitch_rate=30.0))
    lossy = _lose_frames(x, fs, 0.05, seed=6)
    gone = np.isnan(lossy[0])
    on = np.array([t.onset_s for t in truth.twitches])
    whole = np.array([not gone[int(t.onset_s * fs): int(t.offset_s * fs) + 1].any() for t in truth.twitches])
    block = int(0.02 * fs)  # one frame at a time, as a link delivers them
    clean_ev, _ = _in_blocks(x.astype(np.float64), fs, block)
    lossy_ev, pipe = _in_blocks(lossy, fs, block)
    found0, false0 = matched_flags(np.array([e.onset_s for e in clean_ev if e.kind == "twitch"]), on, 0.025)
    found, false = matched_flags(np.array([e.onset_s for e in lossy_ev if e.kind == "twitch"]), on, 0.025)
    assert whole.sum() >= 40 and len(pipe.gaps) > 200
    # of the twitches no frame of which was lost, nearly all that the whole trace gives are found
    # (not those within 5 ms of a gap: a part of them may lie in it); it was about a third
    assert (found & whole).sum() >= 0.85 * (found0 & whole).sum()
    assert false.size <= false0.size + 2
    assert pipe.settling_after_gaps_s == 0.0
    # no twitch is reported inside a lost frame
    assert not any(gone[int(e.onset_s * fs): int(e.offset_s * fs)].any() for e in lossy_ev if e.kind == "twitch")


def _quiet(fs: float, seconds: float, seed: int = 1, rms: float = 3.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, rms, (1, int(seconds * fs)))


def _twitch(x: np.ndarray, fs: float, at_s: float, ptp: float = 150.0, ms: float = 20.0) -> tuple[int, int]:
    w = muap(ms, fs, np.random.default_rng(3), False)
    i = int(at_s * fs)
    x[0, i: i + w.size] += w / np.ptp(w) * ptp
    return i, i + w.size


def test_a_twitch_a_short_gap_cuts_is_not_counted_and_one_just_after_it_is():
    fs = 1000.0
    x = _quiet(fs, 8.0)
    s, e = _twitch(x, fs, 3.0)
    _twitch(x, fs, 5.04)  # 30 ms after the next gap ends: the restart's settling had hidden it
    x[:, (s + e) // 2: (s + e) // 2 + 10] = np.nan  # 10 ms lost in the middle of the first
    x[:, 5000:5010] = np.nan
    for block in (1000, 7):
        ev, pipe = _in_blocks(x, fs, block)
        assert [t.onset_s for t in ev if t.kind == "twitch"] == [pytest.approx(5.045, abs=0.01)]
        cut = [t for t in ev if abs(t.onset_s - 3.0) < 0.05]
        assert cut and all(t.kind == "artifact" and t.reason == "cut off by the data gap" for t in cut)
        assert [(g.start_sample, g.n_samples) for g in pipe.gaps] == [((s + e) // 2, 10), (5000, 10)]


@pytest.mark.parametrize("at_s", [2.988, 2.992, 2.997, 2.97])
def test_a_twitch_whose_start_or_end_was_lost_is_cut(at_s):
    # 3-12 ms of its start in the 20 ms gap (only its end came), or its end (2.97 s): its size
    # and onset are not known
    fs = 1000.0
    x = _quiet(fs, 6.0)
    _twitch(x, fs, at_s)
    x[:, 2980:3000] = np.nan
    ev = detect(x, fs).events
    assert not [t for t in ev if t.kind == "twitch"]
    assert [t.reason for t in ev if abs(t.onset_s - 2.99) < 0.05] == ["cut off by the data gap"]


def test_a_contraction_across_a_short_gap_stays_one_contraction():
    fs = 1000.0
    x = _quiet(fs, 10.0)
    activity = sosfilt(butter(4, (40.0, 150.0), "bandpass", fs=fs, output="sos"), np.random.default_rng(4).normal(0.0, 150.0, 2000))
    x[0, 4000:6000] += activity
    x[:, 5000:5030] = np.nan
    ev = [e for e in detect(x, fs).events if e.kind != "twitch"]
    assert [(e.kind, round(e.onset_s, 1), round(e.offset_s, 1)) for e in ev] == [("contraction", 4.0, 6.0)]


def test_a_gap_longer_than_the_bridge_restarts_the_filters():
    fs = 1000.0
    x = _quiet(fs, 6.0)
    x[:, 2000:2100] = np.nan  # 0.1 s: bridged
    x[:, 4000:4101] = np.nan  # 0.101 s: the filters restart and settle for 0.15 s
    _, pipe = _in_blocks(x, fs, 250)
    assert [(g.start_sample, g.n_samples) for g in pipe.gaps] == [(2000, 100), (4000, 101)]
    assert pipe.settling_after_gaps_s == pytest.approx(0.15)
    _, never = _in_blocks(x, fs, 250, DetectorConfig(bridge_gap_s=0.0))
    assert never.settling_after_gaps_s == pytest.approx(0.30)


def test_a_short_gap_is_the_same_given_in_parts_or_as_missing_samples():
    fs = 1000.0
    x = _quiet(fs, 8.0)
    for at in (2.0, 3.5, 5.0):
        _twitch(x, fs, at)
    for gap in (70, 120):  # bridged, and (two parts that grow past the bridge) restarted
        nan = x.copy()
        nan[:, 3000: 3000 + gap] = np.nan
        ref = detect(nan, fs)
        pipe = Pipeline(fs, 1)
        ev = pipe.process(x[:, :3000]) + pipe.gap(gap // 2) + pipe.gap(gap - gap // 2)
        ev += pipe.process(x[:, 3000 + gap:]) + pipe.flush()
        assert ev == ref.events and pipe.gaps == ref.gaps
        assert [round(e.onset_s, 1) for e in ev if e.kind == "twitch"] == [2.0, 3.5, 5.0]


def test_data_that_ends_in_a_short_gap_closes_as_at_any_gap():
    fs = 1000.0
    x = _quiet(fs, 4.0)
    _twitch(x, fs, 3.96, ms=25.0)
    x[:, -20:] = np.nan  # the last frame lost, in the middle of a twitch
    res = detect(x, fs)
    assert [(g.start_sample, g.n_samples) for g in res.gaps] == [(3980, 20)]
    assert not res.twitches
    assert [e.reason for e in res.events if e.onset_s > 3.9] == ["cut off by the data gap"]


def test_the_mains_canceller_keeps_its_estimate_across_a_skipped_gap():
    fs = 1000.0
    t = np.arange(int(6 * fs)) / fs
    hum = 100.0 * np.sin(2 * np.pi * 50.02 * t + 0.3)
    x = (hum + np.random.default_rng(2).normal(0.0, 2.0, t.size))[None, :]
    residue = {}
    for how in ("skip", "restart"):
        mc = MainsCanceller(fs, 1, 50.0, (50.0,), 1.0)
        mc.process(x[:, :3000])
        getattr(mc, how)(33)  # 33 samples lost: the next block starts mid-period
        out = mc.process(x[:, 3033:3533])
        residue[how] = float(np.sqrt(np.mean((out - (x[:, 3033:3533] - hum[3033:3533])) ** 2)))
    assert residue["skip"] < 1.0 < 20.0 < residue["restart"]


@pytest.mark.parametrize("mains", ["auto", "off"])
def test_an_empty_block_is_no_input_even_after_a_short_gap(mains):
    x = np.random.default_rng(1).normal(0.0, 3.0, (1, 4000))
    pipe = Pipeline(1000.0, 1, DetectorConfig(mains=mains))
    ev = pipe.process(x[:, :2500]) + pipe.process(x[:, :0]) + pipe.gap(20) + pipe.process(x[:, :0])
    ev += pipe.process(x[:, 2520:]) + pipe.flush()
    ref = x.copy()
    ref[:, 2500:2520] = np.nan
    assert ev == detect(ref, 1000.0, DetectorConfig(mains=mains)).events


def test_a_gap_bridged_while_the_floor_is_learnt_does_not_pull_it_down():
    # the fill band-passes to ~0: windows of it had pulled the floor being learnt down to a quarter
    fs = 1000.0
    w = muap(20.0, fs, np.random.default_rng(3), False)
    x = np.random.default_rng(0).normal(0.0, 3.0, (1, 6000))
    x[0, 650:650 + w.size] += w / np.ptp(w) * 150.0
    lossy = x.copy()
    lossy[:, 300:400] = np.nan  # 0.1 s lost before the floor exists (0.5 s)
    whole, cut = (detect(a, fs, DetectorConfig(mains="off")) for a in (x, lossy))
    assert [e.onset_s for e in cut.twitches] == [e.onset_s for e in whole.twitches] != []


def test_a_bridged_gap_is_no_restart_for_the_settling_figure_or_the_floor_start():
    # a short gap inside the start's own settling had counted it as settling after gaps, and
    # named the start's cut a gap's
    fs = 1000.0
    w = muap(20.0, fs, np.random.default_rng(3), False)
    x = np.random.default_rng(1).normal(0.0, 3.0, (1, 4000))
    # under way when the floor first exists (0.6 s: the window the fill touched is no history)
    x[0, 595:595 + w.size] += w / np.ptp(w) * 300.0
    x[:, 100:120] = np.nan
    pipe = Pipeline(fs, 1)
    ev = pipe.process(x) + pipe.flush()
    assert pipe.settling_after_gaps_s == 0.0
    assert [e.reason for e in ev if e.onset_s < 0.7][0].startswith("cut off by the start of data")


@pytest.mark.parametrize("seed", [0, 1])
def test_frames_lost_while_the_mains_is_decided_leave_its_harmonics_found(seed):
    # the first 2 s decide the mains and its harmonics; joined end to end around lost frames,
    # the hum's phase jumped, harmonics went unfound and stayed in the signal all session
    # (a floor of 8-10 µV over noise of 1.4 µV)
    fs = 4000.0
    t = np.arange(int(10 * fs)) / fs
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 3.0, t.size)
    for k, level in ((1, 20.0), (2, 6.0), (3, 8.0), (4, 4.0)):
        x += level * np.sqrt(2) * np.sin(2 * np.pi * 50.0 * k * t + rng.uniform(0, 2 * np.pi))
    whole = detect(x[None], fs)
    lossy = detect(_lose_frames(x[None], fs, 0.05, seed, frame_s=0.0035), fs)
    assert lossy.mains.harmonics_hz == whole.mains.harmonics_hz == (50.0, 100.0, 150.0, 200.0)
    assert lossy.quality["noise_floor_uv_rms"][0] < 1.1 * whole.quality["noise_floor_uv_rms"][0]


def test_a_short_gap_beside_a_large_twitch_leaves_it_counted():
    # a lost frame of a 4 kHz link is 3.5 ms: cutting every potential near one had lost a
    # third of the twitches at 5 % of frames lost
    fs = 4000.0
    x = _quiet(fs, 6.0, rms=6.0)  # a floor of ~2.5 µV in the pass band
    _twitch(x, fs, 3.0, ptp=200.0, ms=8.0)
    x[:, 12_000 - 14: 12_000] = np.nan  # 3.5 ms lost, ending where an 8 ms twitch begins
    _twitch(x, fs, 3.999, ptp=30.0, ms=8.0)  # and beside a small one (about 12x the floor),
    x[:, 16_000: 16_014] = np.nan  # which may be the fill's kink rung through the band-pass
    ev = detect(x, fs).events
    assert [round(e.onset_s, 2) for e in ev if e.kind == "twitch"] == [3.0]
    assert [e.reason for e in ev if abs(e.onset_s - 4.0) < 0.02] == ["cut off by the data gap"]


def test_after_a_gap_longer_than_the_floors_history_the_floor_is_learnt_again():
    # the floor is the percentile of the last 6 s; after a longer outage (a recorder starts a new
    # file after 60 s) it had kept the noisier skin's windows from before it, and the file's
    # events differed from the analysis of the file alone
    fs = 1000.0
    rng = np.random.default_rng(1)
    before, after = rng.normal(0.0, 15.0, (1, 20_000)), rng.normal(0.0, 3.0, (1, 20_000))
    for at in (0.7, 1.5, 2.5, 8.0):
        _twitch(after, fs, at, ptp=25.0)
    pipe = Pipeline(fs, 1)
    ev = pipe.process(before) + pipe.gap(65_000) + pipe.process(after) + pipe.flush()
    n0 = 85_000

    def key(e, shift=0):
        return e.onset_sample - shift, e.offset_sample - shift, e.kind, e.reason, e.peak_to_peak_uv

    assert [key(e, n0) for e in ev if e.onset_sample >= n0] == [key(e) for e in detect(after, fs).events]
    assert sum(e.kind == "twitch" and e.onset_sample >= n0 for e in ev) == 4


@pytest.mark.parametrize("block", [20, 1000])
def test_data_lost_while_the_mains_is_decided_leaves_the_decision_to_the_data_not_the_blocks(block):
    # NaN samples had counted toward the probe's 2 s: in small blocks the probe held what data
    # came before the 2 s of input were up (here 0.8 s), and the mains went undetected, while
    # the same array in one chunk found it
    fs = 1000.0
    t = np.arange(int(12 * fs)) / fs
    x = (np.random.default_rng(0).normal(0.0, 3.0, t.size) + 80.0 * np.sin(2 * np.pi * 50.0 * t))[None]
    x[:, 500:1700] = np.nan
    ref = detect(x, fs)
    ev, pipe = _in_blocks(x, fs, block)
    assert ref.mains.frequency_hz == 50.0 and pipe.mains == ref.mains
    assert sorted(ev, key=lambda e: (e.onset_sample, e.channel)) == ref.events and pipe.gaps == ref.gaps


def test_windows_left_out_while_the_floor_is_learnt_do_not_count_as_its_history():
    # a window that touched a bridged fill is left out (NaN) but had counted toward the floor's
    # 0.5 s of history: with a lost frame in each of the first five, the floor came from the one
    # window after them (30 µV of activity over a 3 µV floor)
    fs = 1000.0
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 3.0, (1, 3000))
    x[0, 520:580] += rng.normal(0.0, 40.0, 60)
    for w in range(5):
        x[:, w * 100 + 40: w * 100 + 60] = np.nan
    pipe = Pipeline(fs, 1, DetectorConfig(mains="off"))
    floors = []
    for i in range(0, 2000, 20):
        pipe.process(x[:, i: i + 20])
        f = pipe.current_floor()
        if f is not None and np.isfinite(f[0]):
            floors.append(float(f[0]))
    assert floors and max(floors) < 4.0


def test_twitches_soon_after_an_outage_are_counted_under_hum():
    # after a gap too long to bridge the canceller had restarted: ~50 µV of hum was left for the
    # first 0.1 s, and the twitches of the next half second read as activity in a muscle not at
    # rest. Up to 1 s it keeps its history (its phase is absolute)
    fs = 1000.0
    x = _quiet(fs, 40.0)
    t = np.arange(x.shape[1]) / fs
    x += 60.0 * np.sqrt(2) * np.sin(2 * np.pi * 50.02 * t + 0.4)
    times = []
    for k in range(6):
        at = 5.0 + 5 * k
        x[:, int(at * fs): int((at + 0.3) * fs)] = np.nan  # 0.3 s outages
        times.append(round(at + 0.3 + 0.25 + 0.05 * k, 3))  # a twitch 0.25-0.5 s after each
        _twitch(x, fs, times[-1], ptp=60.0)
    found = [e.onset_s for e in detect(x, fs).twitches]
    assert len(found) == 6 and all(abs(f - t0) < 0.02 for f, t0 in zip(found, times))


@pytest.mark.parametrize("fs", [1000.0, 2000.0])
def test_twitches_soon_after_a_long_outage_are_counted_under_hum_and_come_no_later(fs):
    # past a second the canceller's history starts again: it had started empty and left ~100 µV
    # of hum for the first 0.1 s and a few µV after (the off-nominal grid turned the first
    # blocks' median away), and every twitch 0.15-0.5 s after an outage of 1.5 or 3 s read as
    # activity in a muscle not at rest (none of 109 found; all without hum). It learns the hum
    # from the 0.15 s the detector settles on after the gap (held: no event can come from it)
    x = _quiet(fs, 40.0)
    t = np.arange(x.shape[1]) / fs
    rng = np.random.default_rng(7)
    for k, level in ((1, 90.0), (2, 30.0), (3, 18.0), (4, 9.0)):
        x += level * np.sqrt(2) * np.sin(2 * np.pi * k * 50.03 * t + rng.uniform(0, 2 * np.pi))
    times = []
    for k, (at, lost) in enumerate(((6.0, 1.5), (14.0, 3.0), (24.0, 1.2), (32.0, 2.0))):
        x[:, int(at * fs): int((at + lost) * fs)] = np.nan
        times.append(round(at + lost + 0.17 + 0.09 * k, 3))  # 0.17-0.44 s after each
        _twitch(x, fs, times[-1], ptp=60.0)  # ~20x the noise in the band
    pipe, frame = Pipeline(fs, 1), int(0.02 * fs)
    found, late = [], []
    for i in range(0, x.shape[1], frame):  # a frame at a time, as a link delivers them
        for e in pipe.process(x[:, i: i + frame]):
            if e.kind == "twitch":
                found.append(e.onset_s)
                late.append((i + frame) / fs - e.offset_s)
    found += [e.onset_s for e in pipe.flush() if e.kind == "twitch"]
    assert len(found) == len(times) and all(abs(f - t0) < 0.02 for f, t0 in zip(found, times))
    assert max(late) <= 0.3


def test_a_short_gap_while_the_canceller_learns_is_held_with_it_and_bridged():
    # the first 0.15 s after a long outage are held while the canceller learns the hum; a lost
    # frame among them is held too (the fit leaves its samples out), and bridged when they go
    # through, whether it comes as gap() or as missing samples, in whatever blocks
    fs = 1000.0
    x = _quiet(fs, 12.0)
    t = np.arange(x.shape[1]) / fs
    x += 80.0 * np.sqrt(2) * np.sin(2 * np.pi * 50.02 * t + 0.4)
    x[:, 4000:6000] = np.nan  # 2 s lost
    x[:, 6040:6060] = np.nan  # and a frame 40 ms after the data came back
    _twitch(x, fs, 6.3, ptp=60.0)
    ref = detect(x, fs)
    assert [round(e.onset_s, 1) for e in ref.twitches] == [6.3]
    assert [(g.start_sample, g.n_samples) for g in ref.gaps] == [(4000, 2000), (6040, 20)]
    pipe = Pipeline(fs, 1)
    ev = pipe.process(x[:, :4000]) + pipe.gap(2000) + pipe.process(x[:, 6000:6040]) + pipe.gap(20)
    assert pipe.bridging
    ev += pipe.process(x[:, 6060:]) + pipe.flush()
    assert ev == ref.events and pipe.gaps == ref.gaps
    for block in (7, 20, 1000):
        ev, pipe = _in_blocks(x, fs, block)
        assert sorted(ev, key=lambda e: (e.onset_sample, e.channel)) == ref.events and pipe.gaps == ref.gaps


def _outage(fs: float, after_rms: float, lost_s: float = 10.0, seed: int = 4) -> tuple[np.ndarray, list[float]]:
    """20 s at 3 µV, ``lost_s`` lost, 20 s at ``after_rms``; three twitches of other shapes and
    sizes (no one unit's train) 0.17-0.45 s after the data comes back."""
    x = np.concatenate([_quiet(fs, 20.0, seed), np.full((1, int(lost_s * fs)), np.nan),
                        _quiet(fs, 20.0, seed + 1, after_rms)], axis=1)
    back = 20.0 + lost_s
    times = [round(back + d, 3) for d in (0.17, 0.3, 0.45)]
    for at, ptp, ms in zip(times, (60.0, 150.0, 45.0), (20.0, 8.0, 12.0)):
        _twitch(x, fs, at, ptp=ptp, ms=ms)
    return x, times


@pytest.mark.parametrize("fs", [1000.0, 2000.0])
def test_after_a_long_outage_on_the_same_skin_the_floor_goes_on_and_twitches_soon_after_count(fs):
    # past the floor's 6 s history the floor was learnt again, over 0.5 s in which nothing
    # counted: a Bluetooth drop of 10 s cost the twitches of the half second after it. When the
    # first 0.1 s back is as quiet as the floor before, that floor goes on: blind only while the
    # filters settle (0.15 s), as after a shorter gap
    x, times = _outage(fs, 3.0)
    found = [e.onset_s for e in detect(x, fs).twitches if e.onset_s > 29.0]
    assert len(found) == 3 and all(abs(f - t) < 0.02 for f, t in zip(found, times))
    pipe = Pipeline(fs, 1)
    pipe.process(x[:, : int(30.16 * fs)])  # (the floor of 3 µV of white noise in the 20-450 Hz band)
    assert 0.8 < pipe.current_floor()[0] / 3.0 * np.sqrt((fs / 2) / (min(450.0, 0.45 * fs) - 20.0)) < 1.1
    pipe.process(x[:, int(30.16 * fs):])
    assert pipe.settling_after_gaps_s == pytest.approx(0.15)  # (blind as long as after a short gap)


def test_after_a_long_outage_on_other_skin_the_floor_is_learnt_again():
    # electrodes put on again (five times the noise): the floor from before would have read
    # the new noise as activity; learnt again, as at a file's start, twitches in its 0.5 s are
    # lost, and the settling figure (the summary's warning about blind time) says so: it had
    # counted the filters' 0.15 s alone
    fs = 1000.0
    x, _ = _outage(fs, 15.0)
    pipe = Pipeline(fs, 1)
    pipe.process(x[:, : int(30.4 * fs)])
    assert pipe.current_floor() is None or np.isnan(pipe.current_floor()[0])
    pipe.process(x[:, int(30.4 * fs):])
    assert 0.5 <= pipe.settling_after_gaps_s <= 0.65
    assert not [e for e in detect(x, fs).events if 30.0 < e.onset_s < 30.5 and e.kind == "twitch"]


@pytest.mark.parametrize("seed", range(6))
def test_the_floor_from_before_a_long_outage_goes_on_whatever_the_chunking(seed):
    # the first window back decides; a block that ends inside it, at its end or past it gives
    # the same events, with one channel on the same skin and one not, a frame lost (bridged)
    # right after that window, and twitches soon after
    fs = 1000.0
    a, _ = _outage(fs, 3.0)
    b, _ = _outage(fs, 12.0, seed=9)
    x = np.concatenate([a, b])
    x[:, 30_110:30_130] = np.nan
    ref = detect(x, fs)
    rng = np.random.default_rng(seed)
    pipe, events, i = Pipeline(fs, 2), [], 0
    while i < x.shape[1]:
        near = 29_900 <= i < 30_400
        n = int(rng.integers(1, 30 if near else 3000))
        events += pipe.process(x[:, i: i + n])
        i += n
    events += pipe.flush()
    assert sorted(events, key=lambda e: (e.onset_sample, e.channel)) == ref.events
    soon = [e.onset_s for e in ref.twitches if 30.0 < e.onset_s < 30.5]
    assert len(soon) == 3 and all(abs(f - t) < 0.02 for f, t in zip(soon, (30.17, 30.3, 30.45)))


@pytest.mark.parametrize("compiled", [False, True])
def test_the_floor_and_resting_floor_after_a_long_gap_are_the_same_in_any_blocks(monkeypatch, compiled):
    # the block that completes the first window after the gap is taken in two at its end (the
    # floor before the gap may go on from there): the floors and the resting floors the trains
    # read (``rest_at``, which differ after activity that keeps coming back) come out bit for
    # bit as from the whole block, on channels that go on (0, 1) and one that learns again (2)
    from myotwitch.dsp import kernels
    from myotwitch.dsp.noise import NoiseFloor

    monkeypatch.setattr(kernels, "enabled", compiled)
    fs = 1000.0
    rng = np.random.default_rng(2)
    y = rng.standard_normal((3, 30_000)) * np.array([[3.0], [5.0], [4.0]])
    for t in np.arange(0.0, 30.0, 2.5):  # contractions every 2.5 s, the data coming back in one (at 11.8 s)
        y[:, int(t * fs): int((t + 2.0) * fs)] *= 4.0 + 30.0 * np.hanning(int(2.0 * fs))
    back = 11_800
    y[2, back:] *= 5.0  # channel 2 comes back on other skin
    y2 = y * y

    def run(sizes):
        nf = NoiseFloor(fs, 3, 0.1, 6.0, 25.0, 0.5, 0.5, 1.5, 4.0, 2, seed_ratio=1.5)
        floors, rests, i = [], [], 0
        for part, end in ((0, back), (1, 30_000)):
            if part:
                nf.restart(forget=True)
            k = 0
            while i < end:
                n = min(sizes[k % len(sizes)], end - i)
                floors.append(nf.process(y2[:, i: i + n]))
                rests.append(nf.rest_at(np.arange(n)))
                i, k = i + n, k + 1
        return np.concatenate(floors, axis=1), np.concatenate(rests, axis=1)

    want = run([30_000])
    assert np.isfinite(want[0][:2, back + 150]).all() and np.isnan(want[0][2, back + 150])  # (0, 1 go on; 2 learns)
    assert (want[1][:2, back:back + 600] < want[0][:2, back:back + 600]).any(axis=1).all()  # (a pause's resting floor)
    for sizes in ([50], [7, 93, 1], [100], [150, 20, 3000], [1, 1, 98, 1]):
        got = run(sizes)
        for a, b in zip(want, got):
            assert np.array_equal(a, b, equal_nan=True)


def test_after_an_outage_over_a_minute_the_floor_is_learnt_again_even_on_the_same_skin():
    # the recorder ends its file at a gap over 60 s, and the next file's analysis learns the
    # floor from its first sample: the live events after such a gap stay that file's events
    fs = 1000.0
    x, _ = _outage(fs, 3.0, lost_s=61.0)
    back = int(81.0 * fs)
    pipe = Pipeline(fs, 1)
    ev = pipe.process(x[:, :int(20 * fs)]) + pipe.gap(back - int(20 * fs)) + pipe.process(x[:, back:]) + pipe.flush()

    def key(e, shift=0):
        return e.onset_sample - shift, e.offset_sample - shift, e.kind, e.reason, e.peak_to_peak_uv

    assert [key(e, back) for e in ev if e.onset_sample >= back] == [key(e) for e in detect(x[:, back:], fs).events]
    assert not [e for e in ev if e.onset_sample >= back and e.kind == "twitch" and e.onset_s < 81.5]


@pytest.mark.parametrize("chunk", [37, 500, 4096, 60_000])
def test_where_the_detector_did_not_search_is_the_same_in_any_blocks(chunk):
    """``unsearched_spans`` say where the seconds ``searched_s`` leaves out lie (the start-up, the
    settling after a restart, none after a bridged gap), in samples of data only, the same
    however the data is cut: a report's rate over time is over the rest (host/report.py)."""
    rng = np.random.default_rng(7)
    fs = 1000.0
    x = rng.normal(0, 5, (2, 60_000))
    x[:, 10_000:10_030] = np.nan   # (short: bridged, no restart)
    x[:, 20_000:28_000] = np.nan   # (longer than the floor's history: learnt again)
    x[:, 40_000:40_300] = np.nan   # (a restart: settles)
    pipe = Pipeline(fs, 2)
    for i in range(0, x.shape[1], chunk):
        pipe.process(x[:, i:i + chunk])
    pipe.flush()
    spans = pipe.unsearched_spans
    valid = pipe.samples_seen - sum(g.n_samples for g in pipe.gaps)
    assert sum(b - a for a, b in spans) == valid - round(pipe.searched_s * fs)
    assert spans[0][0] == 0 and all(a < b for a, b in spans)
    assert not any(a < 10_030 and b > 10_030 for a, b in spans)  # (the bridged gap leaves none)
    assert [a for a, _ in spans[1:]] == [28_000, 40_300]  # (each restart from its first sample of data)
    one = Pipeline(fs, 2)
    one.process(x)
    one.flush()
    assert one.unsearched_spans == spans
