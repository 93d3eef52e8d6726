"""BrainFlow boards, with BrainFlow's own synthetic board."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from myotwitch.host.errors import SourceError, UsageError  # noqa: E402
from myotwitch.host.sources import open_source, parse_spec  # noqa: E402
from myotwitch.host.sources.brainflow_board import PackageCounter, require_brainflow  # noqa: E402

# imported the way the source imports it (quietly: board_shim pulls in the deprecated pkg_resources)
try:
    _bs = require_brainflow()
except SourceError:
    pytest.skip("brainflow (myotwitch[brainflow]) is not installed", allow_module_level=True)
BoardIds, BoardShim, BrainFlowInputParams = _bs.BoardIds, _bs.BoardShim, _bs.BrainFlowInputParams
from myotwitch.host.stream import DeviceInfo, GapRecord, SampleBlock  # noqa: E402

CLI = [sys.executable, "-m", "myotwitch.host.cli"]
SYNTH = BoardIds.SYNTHETIC_BOARD.value


def synthetic_data(seconds: float) -> np.ndarray:
    """Rows of the synthetic board, straight from BrainFlow."""
    BoardShim.disable_board_logger()
    board = BoardShim(SYNTH, BrainFlowInputParams())
    board.prepare_session()
    try:
        board.start_stream()
        time.sleep(seconds)
        data = board.get_board_data()
        board.stop_stream()
    finally:
        board.release_session()
    return data


def test_specs_parse():
    assert parse_spec("brainflow:cyton?serial_port=/dev/ttyUSB0&channels=1,2") == (
        "brainflow", "cyton", {"serial_port": "/dev/ttyUSB0", "channels": "1,2"})
    assert parse_spec("brainflow:-1") == ("brainflow", "-1", {})


@pytest.mark.parametrize("spec, error, message", [
    # in the words an LSL stream's refusal uses (rate_problem), with the board hint after them
    ("brainflow:ganglion", UsageError, r"Ganglion samples at 200 Hz; the twitch detector needs 250-4000 Hz \(twitch "
     r"energy lies above 20 Hz up to ~450 Hz\); use a board at 250 Hz or more"),
    ("brainflow:cyton_daisy", UsageError, "125 Hz"),
    ("brainflow:toaster", UsageError, "unknown BrainFlow board 'toaster'"),
    ("brainflow:12345", UsageError, "no board id 12345"),
    ("brainflow:synthetic?colour=red", UsageError, "unknown option 'colour'"),
    ("brainflow:synthetic?channels=0", UsageError, "board channel numbers 1-16"),
    ("brainflow:cyton?serial_port=/dev/no-such-port", SourceError, r"could not start Cyton: [^(]*$"),
    # (BrainFlow's own words were INVALID_ARGUMENTS_ERROR:13, with no hint of the port it wants)
    ("brainflow:cyton", SourceError, r"could not start Cyton: .*\(no connection given: add the board's port, "
     r"e\.g\. brainflow:cyton\?serial_port=/dev/ttyUSB0"),
])
def test_what_cannot_work_is_refused_clearly(spec, error, message):
    with pytest.raises(error, match=message):
        open_source(spec)


def test_ganglion_fails_with_one_line_on_the_command_line(tmp_path):
    r = subprocess.run([*CLI, "record", "--source", "brainflow:ganglion?mac_address=00:11:22:33:44:55",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "200 Hz" in lines[0] and "250" in lines[0], r.stderr


def test_synthetic_board_by_name_and_id_gives_emg_channels_in_uv():
    with open_source("brainflow:-1?channels=2,5") as src:
        recs, deadline = [], time.monotonic() + 10
        while sum(r.n for r in recs if isinstance(r, SampleBlock)) < 250:
            assert time.monotonic() < deadline
            recs += src.read(0.2)
    info = next(r for r in recs if isinstance(r, DeviceInfo))
    assert (info.fs, info.n_channels, info.labels) == (250.0, 2, ("ch2", "ch5"))
    blocks = [r for r in recs if isinstance(r, SampleBlock)]
    assert [b.first_sample for b in blocks] == list(np.cumsum([0] + [b.n for b in blocks[:-1]]))
    assert not [r for r in recs if isinstance(r, GapRecord)]
    x = np.concatenate([b.uv for b in blocks], axis=1)
    # the synthetic board's EXG rows are sines of tens of µV (BrainFlow scales to µV itself)
    assert np.all(np.isfinite(x)) and 1.0 < np.ptp(x[0]) < 1000.0
    reference = synthetic_data(0.5)
    assert 1.0 < np.ptp(reference[BoardShim.get_emg_channels(SYNTH)[1]]) < 1000.0


def test_package_counter_turns_lost_packets_into_exact_gaps():
    """Real synthetic-board rows with packets cut out, fed in uneven chunks."""
    data = synthetic_data(3.2)
    counter_row, ts_row = BoardShim.get_package_num_channel(SYNTH), BoardShim.get_timestamp_channel(SYNTH)
    assert data.shape[1] >= 700
    lost = [(100, 30), (300, 300)]  # 300 > 256: a whole turn of the counter, settled by the timestamps
    keep = np.ones(data.shape[1], bool)
    for start, n in lost:
        keep[start:start + n] = False
    kept = data[:, keep]
    pc = PackageCounter(250.0)
    gaps, pos, i = [], 0, 0
    for size in (7, 50, 1, 33, 200, 1000):
        chunk = kept[:, i:i + size]
        i += size
        if not chunk.shape[1]:
            break
        for a, b, missing in pc.split(chunk[counter_row], chunk[ts_row]):
            if missing:
                gaps.append((pos, missing))
                pos += missing
            pos += b - a
    assert gaps == lost and pos == data.shape[1]


def test_record_synthetic_board_for_6_s_writes_a_readable_file(tmp_path):
    import pyedflib

    r = subprocess.run([*CLI, "record", "--source", "brainflow:synthetic", "--duration", "6s", "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    files = sorted(tmp_path.glob("*.bdf"))
    assert len(files) == 1
    with pyedflib.EdfReader(str(files[0])) as f:
        assert f.getFileDuration() == 6 and f.signals_in_file == 8
        assert f.getSampleFrequency(0) == 250 and f.getPhysicalDimension(0) == "uV"
        x = f.readSignal(0)
    assert x.size == 1500 and 1.0 < np.ptp(x) < 1000.0


def test_a_board_that_goes_quiet_is_restarted_and_the_outage_is_a_gap():
    from myotwitch.host.stream import LinkEvent

    def until(recs, pred, timeout_s=10.0):
        deadline = time.monotonic() + timeout_s
        while not pred(recs):
            assert time.monotonic() < deadline, recs[-5:]
            recs += src.read(0.1)
        return recs

    with open_source("brainflow:synthetic?channels=1", stall_timeout_s=0.5, backoff_s=(0.2, 1.0)) as src:
        recs = until([], lambda r: sum(x.n for x in r if isinstance(x, SampleBlock)) >= 100)
        before = sum(x.n for x in recs if isinstance(x, SampleBlock))
        src._board.stop_stream()  # the board stops sending (as when its radio drops)
        quiet = time.monotonic()
        recs = until([], lambda r: any(isinstance(x, GapRecord) for x in r))
        recs = until(recs, lambda r: sum(x.n for x in r if isinstance(x, SampleBlock)) >= 50)
        assert src.stats()["reconnects"] == 1
    kinds = [x.kind for x in recs if isinstance(x, LinkEvent)]
    assert kinds[:3] == ["stalled", "disconnected", "connected"]
    gap = next(x for x in recs if isinstance(x, GapRecord))
    assert gap.start_sample >= before and not gap.exact
    assert 0.3 < gap.duration_s < time.monotonic() - quiet + 0.5


def test_missing_brainflow_says_which_extra(monkeypatch):
    from myotwitch.host.sources import brainflow_board

    monkeypatch.setitem(sys.modules, "brainflow", None)
    with pytest.raises(SourceError, match=r"pip install 'myotwitch\[brainflow\]'"):
        brainflow_board.require_brainflow()


def test_a_board_that_goes_quiet_is_not_connected_until_restarted():
    # (the recorder's status lines ask `connected`: without it they said "the link is up" while the
    # board was being restarted)
    with open_source("brainflow:synthetic?channels=1", stall_timeout_s=0.5, backoff_s=(0.2, 1.0)) as src:
        assert src.connected
        src._board.stop_stream()
        deadline = time.monotonic() + 10
        while src.connected:
            assert time.monotonic() < deadline
            src.read(0.1)
        while not src.connected:
            assert time.monotonic() < deadline
            src.read(0.1)
