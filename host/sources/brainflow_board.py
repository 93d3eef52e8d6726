"""``brainflow:BOARD`` — a board BrainFlow drives (OpenBCI Cyton, synthetic, ...), read into the
same records as our own device.

BrainFlow already scales EXG rows to µV and lists which rows are EMG; we keep those. Lost
packets show as jumps of the board's package counter (one count per sample, modulo 256); the
board's timestamps settle how many whole turns of the counter a long loss took. Named
``brainflow_board`` so it never shadows the ``brainflow`` package itself.

Boards below the detector's 250 Hz (Ganglion at 200 Hz, Cyton+Daisy at 125 Hz) are refused
before anything is opened: at 200 Hz the band the detector needs (20 Hz up to 0.45 x rate)
would end at 90 Hz, below its 100 Hz envelope, and most of a twitch's energy would be gone.
"""

from __future__ import annotations

import logging
import time
import warnings
from types import ModuleType

import numpy as np

from myotwitch.dsp.config import FS_MIN_HZ, MAX_CHANNELS
from myotwitch.host.errors import SourceError, UsageError
from myotwitch.host.sources.base import ChunkSource, rate_problem
from myotwitch.host.sources.lsl import file_format
from myotwitch.host.stream import DeviceInfo, LinkEvent, Record, SampleBlock

log = logging.getLogger(__name__)

COUNTER_MOD = 256
#: the options that tell BrainFlow where a board is
CONNECTION_PARAMS = ("serial_port", "mac_address", "ip_address", "serial_number", "file", "other_info")
INT_PARAMS = ("ip_port", "ip_port_aux", "ip_port_anc", "ip_protocol", "timeout", "master_board")


def require_brainflow() -> ModuleType:
    """brainflow.board_shim, or one line saying which extra to install."""
    try:
        with warnings.catch_warnings():
            # board_shim loads its library through pkg_resources (on first use), which new
            # setuptools flags on stderr: not ours to show, so load it here, quietly
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            from brainflow import board_shim

            board_shim.BoardControllerDLL.get_instance()
    except (ImportError, OSError) as e:
        raise SourceError(f"BrainFlow boards need the brainflow extra: pip install 'myotwitch[brainflow]' ({e})") from e
    if not log.isEnabledFor(logging.DEBUG):
        board_shim.BoardShim.disable_board_logger()
    return board_shim


def board_id(bs: ModuleType, spec: str, board: str) -> int:
    """'cyton' / 'CYTON_BOARD' / '0' -> BrainFlow's board id."""
    text = board.strip()
    if text.lstrip("-").isdigit():
        value = int(text)
        if value not in {b.value for b in bs.BoardIds}:
            raise UsageError(f"{spec}: BrainFlow has no board id {value}")
        return value
    key = text.upper().replace("-", "_")
    for name in (key, key + "_BOARD"):
        if name in bs.BoardIds.__members__:
            return int(bs.BoardIds[name].value)
    examples = "synthetic, cyton, ganglion, cyton_daisy, cyton_wifi, unicorn, callibri_emg"
    raise UsageError(f"{spec}: unknown BrainFlow board '{board}' (e.g. {examples}, or a numeric board id)")


class PackageCounter:
    """Turns BrainFlow's package counter (and timestamps) into exact gaps.

    ``split(counter, ts)`` returns [(start, end, missing_before)] for one chunk: runs of
    consecutive samples and how many samples were lost just before each run. Boards whose
    counter does not step by one per sample are followed by their timestamps instead."""

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self.last_counter: int | None = None
        self.last_ts: float | None = None
        self.use_counter: bool | None = None  # decided on the first chunk with enough samples

    def split(self, counter: np.ndarray, ts: np.ndarray) -> list[tuple[int, int, int]]:
        counter = np.asarray(counter).astype(np.int64) % COUNTER_MOD
        n = len(counter)
        if self.use_counter is None and n >= 16:
            steps = np.diff(counter) % COUNTER_MOD
            self.use_counter = bool(np.mean(steps == 1) >= 0.9)
            if not self.use_counter:
                log.info("BrainFlow package counter does not count samples; using timestamps for gaps")
        prev_c = np.concatenate([[self.last_counter if self.last_counter is not None else counter[0] - 1],
                                 counter[:-1]])
        prev_t = np.concatenate([[self.last_ts if self.last_ts is not None else ts[0] - 1 / self.fs], ts[:-1]])
        by_time = np.rint((ts - prev_t) * self.fs).astype(np.int64) - 1
        if self.use_counter is False:
            missing = np.where(by_time > max(2, 0.004 * self.fs), by_time, 0)
        else:
            missing = (counter - prev_c - 1) % COUNTER_MOD
            # whole turns of the counter: the timestamps say roughly how long the loss was
            turns = np.maximum(np.rint((by_time - missing) / COUNTER_MOD), 0).astype(np.int64)
            missing = missing + turns * COUNTER_MOD
        self.last_counter, self.last_ts = int(counter[-1]), float(ts[-1])
        cuts = np.flatnonzero(missing > 0).tolist()
        bounds = sorted({0, *cuts, n})
        return [(a, b, int(missing[a])) for a, b in zip(bounds[:-1], bounds[1:])]


class BrainFlowSource(ChunkSource):
    """One BrainFlow board session; reconnects (release, prepare, start) when data stops."""

    def __init__(self, spec: str, target: str, opts: dict[str, str], *, wait: bool = False,
                 reconnect: bool = True, stall_timeout_s: float = 3.0,
                 backoff_s: tuple[float, float] = (0.5, 5.0)) -> None:
        super().__init__()
        bs = self.bs = require_brainflow()
        self.spec = spec
        self.board_id = board_id(bs, spec, target)
        opts = dict(opts)
        chans = opts.pop("channels", None)
        self.sample_format, self.uv_per_count = file_format(spec, opts.pop("bits", "24"))
        self.params = bs.BrainFlowInputParams()
        for key, value in opts.items():
            if not hasattr(self.params, key):
                known = ", ".join(vars(self.params))
                raise UsageError(f"{spec}: unknown option '{key}' (BrainFlow's: {known}; ours: channels, bits)")
            try:
                setattr(self.params, key, int(value) if key in INT_PARAMS else value)
            except ValueError as e:
                raise UsageError(f"{spec}: {key}={value} must be a whole number") from e
        described = self.params.master_board if self.board_id == bs.BoardIds.PLAYBACK_FILE_BOARD.value \
            and self.params.master_board >= -3 else self.board_id
        shim = bs.BoardShim
        self.fs = float(shim.get_sampling_rate(described))
        name = shim.get_device_name(described)
        why = rate_problem(self.fs)
        if why:
            hint = "; use a board at 250 Hz or more, e.g. brainflow:cyton" if self.fs < FS_MIN_HZ else ""
            raise UsageError(f"{spec}: {name} samples at {self.fs:g} Hz; {why}{hint}")
        emg = list(shim.get_emg_channels(described))
        if not emg:
            raise UsageError(f"{spec}: BrainFlow lists no EMG channels for {name}")
        labels = [f"ch{i + 1}" for i in range(len(emg))]
        keep = self._pick(chans, labels)
        self.rows = [emg[i] for i in keep]
        self.package_row = shim.get_package_num_channel(described)
        self.ts_row = shim.get_timestamp_channel(described)
        self.name = name
        where = self.params.serial_port or self.params.mac_address or self.params.ip_address or self.params.serial_number
        device_id = (name + (f"@{where}" if where else "")).replace(" ", "_")
        self._info = DeviceInfo(spec, device_id, f"brainflow {bs.BoardShim.get_version()}",
                                self.fs, len(self.rows), self.sample_format, self.uv_per_count,
                                tuple(labels[i] for i in keep))
        self._setup(wait=wait, reconnect=reconnect, stall_timeout_s=stall_timeout_s, backoff_s=backoff_s)
        self._board = None
        self._ever_connected = False
        self._counter = PackageCounter(self.fs)
        try:
            self._connect()
        except SourceError:
            if not wait:
                raise
            self._down_since = time.monotonic()
            self._pending.append(LinkEvent("reconnecting", f"waiting for {name}"))
            self.retry.failed()

    def _pick(self, chans: str | None, labels: list[str]) -> list[int]:
        if not chans:
            if len(labels) > MAX_CHANNELS:
                log.warning("%s: %d EMG channels; using the first %d (pick others with ?channels=1,2)", self.spec,
                            len(labels), MAX_CHANNELS)
            return list(range(min(len(labels), MAX_CHANNELS)))
        keep = []
        for c in (c.strip() for c in chans.split(",") if c.strip()):
            k = c.lower().removeprefix("ch")
            if not k.isdigit() or not 1 <= int(k) <= len(labels):
                raise UsageError(f"{self.spec}: channels={chans}: expected board channel numbers 1-{len(labels)}")
            keep.append(int(k) - 1)
        if len(keep) > MAX_CHANNELS:
            raise UsageError(f"{self.spec}: channels={chans}: at most {MAX_CHANNELS} channels")
        return keep

    @property
    def info(self) -> DeviceInfo | None:
        return self._info

    # -- session -------------------------------------------------------------------------------
    def _connect(self) -> None:
        board = self.bs.BoardShim(self.board_id, self.params)
        try:
            board.prepare_session()
            board.start_stream(45000)
        except self.bs.BrainFlowError as e:
            try:
                if board.is_prepared():
                    board.release_session()
            except self.bs.BrainFlowError:
                pass
            # (a board reached over a port or a network says only INVALID_ARGUMENTS_ERROR without one)
            hint = "" if self.board_id == self.bs.BoardIds.SYNTHETIC_BOARD.value or any(
                getattr(self.params, k) for k in CONNECTION_PARAMS) else (
                f" (no connection given: add the board's port, e.g. brainflow:{self.spec.split(':', 1)[1].split('?')[0]}"
                "?serial_port=/dev/ttyUSB0, or mac_address=, ip_address=, serial_number= as BrainFlow's page for "
                "the board says)")
            raise SourceError(f"{self.spec}: BrainFlow could not start {self.name}: {e}{hint}") from e
        if self._ever_connected:
            self.reconnects += 1
        self._ever_connected = True
        self._board = board
        self._last_rx = time.monotonic()
        self.retry.connected()
        self._pending += [LinkEvent("connected", f"BrainFlow {self.name}"), self._info]
        log.info("%s: BrainFlow %s streaming, %d EMG ch at %g Hz", self.spec, self.name, len(self.rows), self.fs)

    def _release(self) -> None:
        board, self._board = self._board, None
        if board is None:
            return
        for step in (board.stop_stream, board.release_session):
            try:
                step()
            except Exception:  # noqa: BLE001 - a board that is gone fails any way it likes
                log.debug("BrainFlow %s failed", step.__name__, exc_info=True)

    def _lost(self, why: str) -> None:
        self._release()
        self._down_since = time.monotonic()
        self._announce_loss(why, why, "reconnecting")

    # -- reading ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """A session is streaming (the recorder's status lines ask it)."""
        return self._board is not None

    def _reopen(self, timeout: float) -> bool:
        try:
            self._connect()
        except SourceError as e:
            log.info("%s", e)
            return False
        return True

    def _pull(self, timeout: float) -> list[Record] | None:
        assert self._board is not None
        deadline = time.monotonic() + timeout
        try:
            while self._board.get_board_data_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            data = self._board.get_board_data()
        except self.bs.BrainFlowError as e:
            self._lost(f"BrainFlow read failed: {e}")
            return []
        if not data.shape[1]:
            return None
        self._last_rx = now = time.monotonic()
        return self._samples(data, now)

    def _samples(self, data: np.ndarray, now: float) -> list[Record]:
        out: list[Record] = []
        ts = data[self.ts_row]
        if self._down_since is not None and self._counter.last_ts is not None:
            # a new session restarts the counter: only the timestamps know how long it was down
            down, self._down_since = self._down_since, None
            n = int(round((ts[0] - self._counter.last_ts) * self.fs)) - 1
            if n <= 0:
                n = max(1, int(round((now - down) * self.fs)))
            out.append(self._gap(n, self.fs, "BrainFlow session restarted; length from timestamps", False))
            self._counter = PackageCounter(self.fs)
        self._down_since = None
        uv = data[self.rows].astype(np.float32)
        for a, b, missing in self._counter.split(data[self.package_row], ts):
            if missing:
                out.append(self._gap(missing, self.fs, "packets lost (BrainFlow package counter)", True))
            out.append(SampleBlock(self._next_index, self.fs, uv[:, a:b], now))
            self._next_index += b - a
            self.samples += b - a
        return out

    def close(self) -> None:
        self._release()
        self.closed = True
