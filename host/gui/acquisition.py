"""Acquisition and detection off the GUI thread.

A worker thread reads the source, runs the detector, optionally records, and hands the GUI
what it needs through a lock-protected ring buffer and a queue: the GUI thread never
blocks on I/O and no Qt object is touched from the worker."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from myotwitch.dsp import DetectorConfig, Event, Pipeline
from myotwitch.dsp.filters import StreamingSOS, bandpass_sos
from myotwitch.dsp.mains import MainsCanceller
from myotwitch.host.errors import MyotwitchError
from myotwitch.host.recorder import Recorder
from myotwitch.host.sources.base import Source
from myotwitch.host.stream import DeviceInfo, GapRecord, LinkEvent, SampleBlock, StatusRecord

if TYPE_CHECKING:
    from myotwitch.host.lsl_publish import LslPublisher

log = logging.getLogger(__name__)
BUFFER_S = 60.0
END_OF_FILE = "End of file"


class DisplayBuffer:
    """The last ``BUFFER_S`` seconds of raw and band-passed samples (NaN in gaps), plus the
    detection threshold, indexed by absolute sample number."""

    def __init__(self, fs: float, n_channels: int, seconds: float = BUFFER_S, labels: tuple[str, ...] = ()) -> None:
        self.fs = fs
        self.n_channels = n_channels
        #: channel names, fixed with the buffer: the GUI swaps buffer, labels and plots together
        self.labels = tuple(labels) or tuple(f"ch{i}" for i in range(n_channels))
        self.n = int(seconds * fs)
        self.raw = np.full((n_channels, self.n), np.nan, dtype=np.float32)
        self.filt = np.full((n_channels, self.n), np.nan, dtype=np.float32)
        self.threshold = np.full(n_channels, np.nan)
        self.floor = np.full(n_channels, np.nan)  # the detector's noise floor (µV RMS) per channel
        self.end = 0  # absolute index of the next sample
        self.lock = threading.Lock()

    def append(self, raw: np.ndarray, filt: np.ndarray | None) -> None:
        with self.lock:
            k = raw.shape[1]
            if k >= self.n:
                raw, filt = raw[:, -self.n:], None if filt is None else filt[:, -self.n:]
                self.end += k - self.n
                k = self.n
            idx = (self.end + np.arange(k)) % self.n
            self.raw[:, idx] = raw
            self.filt[:, idx] = np.nan if filt is None else filt
            self.end += k

    def snapshot(self) -> DisplayBuffer:
        """A copy that later samples leave alone: the paused view's (the buffer itself moves on,
        and after ``BUFFER_S`` a paused trace had been blank under its markers)."""
        with self.lock:
            copy = DisplayBuffer.__new__(DisplayBuffer)
            copy.__dict__.update(self.__dict__)
            copy.raw, copy.filt = self.raw.copy(), self.filt.copy()
            copy.threshold, copy.floor = self.threshold.copy(), self.floor.copy()
        copy.lock = threading.Lock()
        return copy

    def window(self, t_end: int, n: int, filtered: bool) -> np.ndarray:
        """Samples [t_end - n, t_end) (NaN where older than the buffer or missing)."""
        with self.lock:
            n = min(n, self.n)
            src = self.filt if filtered else self.raw
            idx = np.arange(t_end - n, t_end)
            out = src[:, idx % self.n].copy()
            out[:, (idx < self.end - self.n) | (idx >= self.end)] = np.nan
            return out


@dataclass
class LinkState:
    source: str = ""
    connected: bool = False
    banner: str = ""
    fs: float = 0.0
    n_channels: int = 0
    labels: tuple[str, ...] = ()
    samples: int = 0
    lost: int = 0
    lost_earlier: int = 0  # of ``lost``, those of the streams before this one (another format)
    gaps: int = 0
    reconnects: int = 0
    battery_pct: int | None = None
    battery_mv: int | None = None
    lead_off: bool = False
    simulator: bool = False
    recording: str = ""
    error: str = ""
    last_data_at: float = 0.0  # time.monotonic() of the last samples (0: none yet)


@dataclass
class Update:
    """What happened since the GUI last asked."""

    events: list[Event] = field(default_factory=list)
    #: (first sample, samples) on the stream's time line (the display buffer's and the detector's)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    #: a new stream starts, with this buffer: the board changed its format (``Acquisition._new_format``), and
    #: the time line, the detector and the counts start again (the recorder starts a new file).
    #: Events and gaps before it in the queue are the last stream's, those after it the new one's.
    stream: DisplayBuffer | None = None


class Acquisition:
    """Runs a source in a thread. ``open_source`` is called in the thread so that slow BLE
    scans or serial probes never freeze the window."""

    def __init__(self, spec: str, config: DetectorConfig, open_source=None, lsl: bool = False) -> None:
        from myotwitch.host.sources import open_source as default_open

        self.spec = spec
        self.lsl = lsl  # live --lsl: publish samples and event markers (made in the thread)
        self.publisher: LslPublisher | None = None
        self.config = config
        self._open = open_source or default_open
        self.state = LinkState(source=spec, simulator=spec.startswith("sim"))
        self.buffer: DisplayBuffer | None = None
        self.pipe: Pipeline | None = None
        self.updates: queue.Queue[Update] = queue.Queue()
        self.received: list[tuple[int, np.ndarray]] = []  # kept only when keep_samples (tests)
        self.keep_samples = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="myotwitch-acquisition", daemon=True)
        self._display_filter: StreamingSOS | None = None
        self._display_mains: MainsCanceller | None = None
        self._display_mains_decided = False
        self._pending_config: DetectorConfig | None = None
        #: (episodes closed by detectors replaced after a settings change, the detector now) as
        #: one value, swapped in one assignment: the window reads ``episodes`` from its own thread
        #: while the worker swaps detectors (the counts carry on across a settings change)
        self._episode_parts: tuple[list, Pipeline | None] = ([], None)
        #: (seconds the detectors replaced so searched, the detector now), the same way: the
        #: counters' rate is per hour searched (``searched_s``)
        self._searched_parts: tuple[float, Pipeline | None] = (0.0, None)
        #: why the source could not be opened or read (None while it works)
        self.failure: MyotwitchError | None = None
        self._recorder: Recorder | None = None
        self._ended: Pipeline | None = None  # the detector of a stream that has ended (``_end_stream``)
        self._info: DeviceInfo | None = None  # what the board said it is, last
        self._rec_lock = threading.Lock()
        self.source: Source | None = None
        #: the files of this stream that recordings made in the window, now stopped, put in the
        #: session history (``recorded_files``)
        self.recorded: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def reconfigure(self, config: DetectorConfig) -> None:
        """New detector settings, applied in the worker at the next block. The stream, the
        recording and the time line carry on; only detection from now on uses the new settings."""
        self._pending_config = config

    @property
    def episodes(self) -> list:
        before, pipe = self._episode_parts
        return before + (list(pipe.episodes) if pipe is not None else [])

    @property
    def searched_s(self) -> float:
        """Seconds of this stream's data the detectors searched (``Pipeline.searched_s``), across
        settings changes (each new detector learns the floor again: 0.5 s more not searched)."""
        before, pipe = self._searched_parts
        return before + (pipe.searched_s if pipe is not None else 0.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.stop_recording()

    # -- recording ---------------------------------------------------------------------------
    def start_recording(self, out_dir: str) -> str:
        """Start recording to ``out_dir``; raises MyotwitchError when that is not possible."""
        with self._rec_lock:
            if self._recorder is not None:
                return self.state.recording
            if self.source is None or self.failure is not None or not self.state.fs:
                raise MyotwitchError("cannot record: no working source" + (f" ({self.failure})" if self.failure else
                                                                          " yet (wait until data arrives)"))
            rec = Recorder(self.source, out_dir, config=self.config, events_path="auto", status_interval_s=3600)
            rec.begin()
            if self.pipe is not None and self.state.fs:
                info = self.source.info
                if info is not None:
                    rec.handle(info)
            self._recorder = rec
            self.state.recording = out_dir
            return out_dir

    def stop_recording(self) -> list[str]:
        with self._rec_lock:
            rec, self._recorder = self._recorder, None
            self.state.recording = ""
        if rec is None:
            return []
        rec.finish(close_source=False)
        with self._rec_lock:
            self.recorded = self.recorded + rec.indexed_files
        return rec.closed_files

    def recorded_files(self) -> list[str]:
        """The files of this stream that recordings made in the window have put in the session
        history, the one going on included (a link lost for over a minute closes its file while
        it goes on). The window's session holds their data: its advice leaves their rows out, so
        they count once, in the one recording the window's session is (a file under a minute,
        too short for a rate on its own, counts there too). A replay's copy is kept out of the
        history."""
        with self._rec_lock:
            rec = self._recorder
            return self.recorded + (rec.indexed_files if rec is not None else [])

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self.lsl:
                from myotwitch.host.lsl_publish import LslPublisher

                self.publisher = LslPublisher()
            source = self.source = self._open(self.spec)
        except MyotwitchError as e:
            self.failure = e
            self.state.error = str(e)
            self.state.banner = str(e)
            return
        try:
            while not self._stop.is_set():
                for rec in source.read(0.05):
                    self._handle(rec)
                    with self._rec_lock:
                        if self._recorder is not None:
                            try:
                                self._recorder.handle(rec)
                                self._recorder.tick()
                            except MyotwitchError as e:
                                self.state.error = str(e)
                                # (the files it closed into the history are still the window's)
                                self.recorded = self.recorded + self._recorder.indexed_files
                                self._recorder = None
                                self.state.recording = ""
                if source.closed:
                    self.state.connected = False
                    if not self.state.banner.startswith(END_OF_FILE):  # (a replay's end says so, not "ended")
                        self.state.banner = "source ended"
                    self._flush_at_end()
                    break
        except MyotwitchError as e:
            self.failure = e
            self.state.connected = False
            self.state.error = self.state.banner = str(e)
        except Exception as e:  # noqa: BLE001 - surface to the GUI, never die silently
            log.exception("acquisition failed")
            self.failure = MyotwitchError(f"{type(e).__name__}: {e}")
            self.state.error = f"{type(e).__name__}: {e}"
            self.state.banner = self.state.error
        finally:
            source.close()
            if self.publisher is not None:
                self.publisher.close()

    def _flush_at_end(self) -> None:
        """The source has ended (a replayed file's last sample): the detector gives the events it
        holds for their context and closes the episode going on, as analysing the file does. The
        window had shown a replay of a file ending 0.15 s after a twitch with one twitch fewer
        than `analyze` of the same file, and its last episode "going on" for good."""
        pipe = self.pipe
        if pipe is None or pipe is self._ended:
            return
        self._flush(pipe)

    def _flush(self, pipe: Pipeline) -> None:
        """The ended stream's detector gives its held events, once, to the window and the outlets."""
        self._ended = pipe
        final = pipe.flush()
        self._publish(final)
        if final:
            self.updates.put(Update(events=final))

    def _handle(self, rec: object) -> None:
        if isinstance(rec, DeviceInfo):
            self._end_stream(rec)  # (its last events go out before the publisher opens the new stream's outlets)
        if self.publisher is not None:
            self.publisher.record(rec)
        self._handle_record(rec)

    def _new_format(self, info: DeviceInfo) -> bool:
        """Does ``info`` start a new stream (as the recorder starts a new file there): another
        rate or channel count, and as well another board, sample format or µV per count (the
        detector's floor and history are the last board's or scale's)?"""
        return self._info is not None and not self._info.same_stream(info)

    def _end_stream(self, info: DeviceInfo) -> None:
        """A board that changes its format mid-stream (``_new_format``) starts a new stream: the
        last one's detector gives its held events now (as the recorder's file gets them)."""
        pipe = self.pipe
        if pipe is None or pipe is self._ended or not self._new_format(info):
            return
        self._flush(pipe)

    def _publish(self, events: list[Event]) -> None:
        if self.publisher is not None and events:
            self.publisher.events(events)

    def _handle_record(self, rec: object) -> None:
        st = self.state
        if isinstance(rec, LinkEvent):
            if rec.kind == "connected":
                if st.samples:
                    st.reconnects += 1
                st.connected = True
                st.banner = ""
            elif rec.kind in ("disconnected", "stalled", "reconnecting"):
                st.connected = False
                st.banner = f"Sensor {rec.kind}: {rec.detail}. Reconnecting…"
            elif rec.kind == "end":
                st.banner = f"{END_OF_FILE}: the replay is over; what it found stays shown (choose a source to go on)"
            elif rec.kind == "unusable":  # (until samples come)
                st.banner = f"Sensor connected, but: {rec.detail}"
            return
        if isinstance(rec, StatusRecord):
            st.battery_pct, st.battery_mv, st.lead_off = rec.battery_pct, rec.battery_mv, rec.lead_off
            return
        if isinstance(rec, DeviceInfo):
            if self.pipe is None or self._new_format(rec):
                buffer = DisplayBuffer(rec.fs, rec.n_channels, labels=rec.labels)
                if self.pipe is not None:
                    self._end_stream(rec)
                    st.lost_earlier = st.lost
                    # said before the buffer is swapped: the window never draws the last
                    # stream's events over the new one's trace
                    self.updates.put(Update(stream=buffer))
                pipe = Pipeline(rec.fs, rec.n_channels, self.config)
                with self._rec_lock:  # (the window's session starts again with the new stream)
                    self.recorded = []
                self._new_display_chain(rec.fs, rec.n_channels)
                self.pipe, self._ended = pipe, None
                self._episode_parts = ([], pipe)
                self._searched_parts = (0.0, pipe)
                # the GUI redraws from the buffer alone: it (with its labels and channel count)
                # is swapped in one assignment, last
                self.buffer = buffer
            st.fs, st.n_channels, st.labels = rec.fs, rec.n_channels, rec.labels
            self._info = rec
            return
        if self.pipe is None or self.buffer is None or self._display_filter is None:
            return  # nothing can be shown before the device has said what it is
        if self._pending_config is not None:
            self._apply_config()
        if isinstance(rec, SampleBlock):
            events = self.pipe.process(rec.uv)
            filt = self._display(rec.uv.astype(np.float64)).astype(np.float32)
            self.buffer.append(rec.uv, filt)
            floor = self.pipe.current_floor()
            if floor is not None:
                self.buffer.threshold = floor * self.config.sensitivity
                self.buffer.floor = floor
            st.samples += rec.n
            st.last_data_at = time.monotonic()
            if st.banner.startswith("Sensor connected, but: "):
                st.banner = ""
            if self.keep_samples:
                self.received.append((rec.first_sample, rec.uv.copy()))
            self._publish(events)
            if events:
                self.updates.put(Update(events=events))
        elif isinstance(rec, GapRecord):
            events = self.pipe.gap(rec.n_samples)
            self._publish(events)
            # where the gap starts on the stream's time line: the source's index counts on across
            # a change of format (the session's), the buffer and the detector start again there
            start = self.buffer.end
            shown = min(rec.n_samples, self.buffer.n)
            self.buffer.append(np.full((st.n_channels, shown), np.nan, dtype=np.float32), None)
            if rec.n_samples > self.buffer.n:
                self.buffer.end += rec.n_samples - self.buffer.n
            if not self.pipe.bridging:  # (a short gap the detector bridges: its filters run on)
                self._display_filter.reset()
            if self._display_mains is not None:  # (its history kept as the detector's is)
                self._display_mains.skip(rec.n_samples)
            st.lost += rec.n_samples
            st.gaps += 1
            self.updates.put(Update(events=events, gaps=[(start, rec.n_samples)]))

    # -- what the detector sees, for the display ------------------------------------------------
    def _new_display_chain(self, fs: float, n_channels: int) -> None:
        lo, hi = self.config.band_for(fs)
        self._display_filter = StreamingSOS(bandpass_sos(lo, hi, fs, self.config.band_order), n_channels)
        self._display_mains = None
        self._display_mains_decided = False

    def _display(self, x: np.ndarray) -> np.ndarray:
        """Mains-cancelled and band-passed like the detector's input, so the trace and the
        threshold lines are comparable. Until the detector has decided on mains (its first
        second or so) the trace is band-passed only."""
        pipe = self.pipe
        if not self._display_mains_decided and pipe is not None and pipe.mains is not None:
            self._display_mains_decided = True
            est, cfg = pipe.mains, self.config
            if est.frequency_hz:
                _, hi = cfg.band_for(pipe.fs)
                harmonics = tuple(h for h in est.harmonics_hz if h < hi + 10.0) or (est.frequency_hz,)
                self._display_mains = MainsCanceller(pipe.fs, pipe.n_channels, est.frequency_hz, harmonics,
                                                     cfg.mains_history_s)
        clean = self._display_mains.process(x) if self._display_mains is not None else x
        assert self._display_filter is not None
        return self._display_filter.process(clean)

    def _apply_config(self) -> None:
        """Swap in a detector with the new settings. It continues the old one's time line (its
        first input is a gap as long as what came before), so event times stay absolute."""
        cfg, self._pending_config = self._pending_config, None
        old = self.pipe
        if cfg is None or old is None:
            return
        final = old.flush()
        new = Pipeline(old.fs, old.n_channels, cfg)
        new.gap(old.samples_in)
        self.config = cfg
        before = self._episode_parts[0] + list(old.episodes)
        self._new_display_chain(old.fs, old.n_channels)
        self.pipe = new
        # (read apart, the window could take the last detector's episodes from both, twice)
        self._episode_parts = (before, new)
        self._searched_parts = (self._searched_parts[0] + old.searched_s, new)
        self._publish(final)
        if final:
            self.updates.put(Update(events=final))
