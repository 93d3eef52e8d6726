"""``sim:`` — the virtual device in-process, paced by the clock, over the real wire protocol."""

from __future__ import annotations

import math
import time

from myotwitch.dsp.synth import SceneSpec, SynthSpec
from myotwitch.host.simulator import Faults, VirtualDevice
from myotwitch.host.sources.base import Link, LinkError, LinkSource

#: sim: options -> (SynthSpec/Faults field, type). Documented in ``myotwitch simulate --help``.
SIM_OPTIONS = {
    "rate": ("fs", float), "channels": ("n_channels", int), "seed": ("seed", int),
    "twitch_rate": ("twitch_rate", float), "noise": ("noise_uv", float), "mains": ("mains_hz", float),
    "mains_uv": ("mains_uv", float), "contractions": ("contraction_rate", float),
    "movement": ("movement_rate", float), "pops": ("pop_rate", float),
    "units": ("units", int), "crosstalk": ("crosstalk", float),
}
FAULT_OPTIONS = {
    "ber": ("bit_error_rate", float), "drop": ("drop_frame_rate", float),
    "disconnect_every": ("disconnect_every_s", float), "disconnect_for": ("disconnect_for_s", float),
    "stall_every": ("stall_every_s", float), "stall_for": ("stall_for_s", float),
    "reset_every": ("reset_every_s", float),
}
#: accepted range of every numeric option (inclusive); fault rates stay low enough that data
#: still flows, so a recording with a duration always ends
OPTION_RANGES: dict[str, tuple[float, float]] = {
    "rate": (250, 4000), "channels": (1, 8), "seed": (0, 2**32 - 1), "twitch_rate": (0, 600),
    "noise": (0, 10_000), "mains_uv": (0, 100_000), "contractions": (0, 600), "movement": (0, 600),
    "pops": (0, 600), "ber": (0, 0.01), "drop": (0, 0.5), "disconnect_every": (0, 86_400),
    "disconnect_for": (0.05, 3600), "stall_every": (0, 86_400), "stall_for": (0.05, 3600),
    "reset_every": (0, 86_400), "speed": (0, 1000), "units": (0, 8), "crosstalk": (0, 0.95),
}
#: intervals where 0 means off and anything else must leave the device time to stream
MIN_INTERVAL_S = {"disconnect_every": 1.0, "stall_every": 1.0, "reset_every": 1.0}


def parse_sim_options(opts: dict[str, str]) -> tuple[SynthSpec, Faults, float]:
    """Turn ``key=value`` options into (signal spec, faults, speed). Unknown keys, values that
    are not numbers and values outside their range are errors naming the option and range."""
    from myotwitch.host.errors import UsageError

    spec_kw: dict = {"duration_s": 10.0, "n_channels": 1}
    fault_kw: dict = {}
    speed = 1.0
    known = sorted([*SIM_OPTIONS, *FAULT_OPTIONS, "speed"])
    for key, value in opts.items():
        if key not in known:
            raise UsageError(f"sim: unknown option '{key}' (known: {', '.join(known)})")
        if key == "mains":
            spec_kw["mains_hz"] = _mains(value)
            continue
        typ = SIM_OPTIONS[key][1] if key in SIM_OPTIONS else FAULT_OPTIONS[key][1] if key in FAULT_OPTIONS else float
        number = _number(key, value, typ)
        if key in SIM_OPTIONS:
            spec_kw[SIM_OPTIONS[key][0]] = number
        elif key in FAULT_OPTIONS:
            fault_kw[FAULT_OPTIONS[key][0]] = number
        else:
            speed = float(number)
    for every, length in OUTAGES:
        e = fault_kw.get(FAULT_OPTIONS[every][0], 0.0)
        f = fault_kw.get(FAULT_OPTIONS[length][0], Faults.__dataclass_fields__[FAULT_OPTIONS[length][0]].default)
        if outage_too_long(e, f):
            raise UsageError(f"sim: {length}={f:g} must be under half of {every}={e:g} (the device must stream "
                             "some of the time)")
    # the faults follow the seed too: seeds meant to differ had lost the very same frames
    fault_kw["seed"] = spec_kw.get("seed", SceneSpec.seed)  # (the default too: seed=0 is the default's signal)
    return SceneSpec(**spec_kw), Faults(**fault_kw), speed  # SceneSpec: SynthSpec + recurring units, crosstalk


#: (interval, outage) option pairs: an outage must leave the device streaming some of the time
OUTAGES = (("disconnect_every", "disconnect_for"), ("stall_every", "stall_for"))


def outage_too_long(every: float, length: float) -> bool:
    """Would outages of ``length`` s every ``every`` s (0: never) leave too little streaming?"""
    return bool(every) and length >= 0.5 * every


def _bound(x: float) -> str:
    """A range's end as typed (``:g`` had shown the seed's 4294967295 as 4.29497e+09)."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def out_of_range(key: str, number: float) -> str | None:
    """What option ``key`` accepts, when ``number`` is not in it (None when it is)."""
    lo, hi = OPTION_RANGES[key]
    if not math.isfinite(number) or not lo <= number <= hi:
        return f"{_bound(lo)} to {_bound(hi)}"
    if key in MIN_INTERVAL_S and 0 < number < MIN_INTERVAL_S[key]:
        return f"0 (off) or {_bound(MIN_INTERVAL_S[key])} to {_bound(hi)} s"
    return None


def _number(key: str, value: str, typ: type) -> float | int:
    from myotwitch.host.errors import UsageError

    lo, hi = OPTION_RANGES[key]
    what = "a whole number" if typ is int else "a number"
    try:
        number = typ(value)
    except ValueError:
        raise UsageError(f"sim: option {key}={value!r} is not {what} (expected {_bound(lo)} to {_bound(hi)})") from None
    expected = out_of_range(key, number)
    if expected is not None:
        raise UsageError(f"sim: {key}={value} is outside {expected}")
    return number


def mains_hz(value: str) -> float | None:
    """The mains frequency a simulator option names (50 or 60 Hz; None: off); ValueError for
    any other (``sim:``'s ``mains=`` and ``simulate --mains`` read it alike)."""
    if value.lower() in ("0", "off", "none"):
        return None
    if value in ("50", "60", "50.0", "60.0"):
        return float(value)
    raise ValueError(value)


def _mains(value: str) -> float | None:
    from myotwitch.host.errors import UsageError

    try:
        return mains_hz(value)
    except ValueError:
        raise UsageError(f"sim: mains={value} must be 50, 60 or off (the mains frequencies in use)") from None


class SimLink(Link):
    """The virtual device behind a byte link. ``speed`` > 1 runs faster than real time;
    ``speed`` = 0 delivers as fast as the consumer reads (tests, benchmarks)."""

    def __init__(self, device: VirtualDevice, speed: float = 1.0, chunk_s: float = 0.02) -> None:
        self.device = device
        self.speed = speed
        self.chunk_s = chunk_s
        self.name = "simulator"
        self._t_last: float | None = None
        self._carry = 0.0
        self._out = bytearray()
        self._open = False

    def open(self) -> None:
        self._advance_while_closed()  # (the device sampled on since the link closed or the last try)
        if self.device.fault_schedule()[0]:
            raise LinkError("simulated device is unplugged")
        self._open = True

    def _advance_while_closed(self) -> None:
        # device time runs on while the link is down (it keeps sampling, like a BLE drop)
        now = time.monotonic()
        if self._t_last is not None and self.speed > 0:
            n = int((now - self._t_last) * self.speed * self.device.fs)
            self._steps(n, deliver=False)
        elif self.speed == 0:  # as fast as possible: skip straight to the end of the outage
            while self.device.fault_schedule()[0]:
                self._steps(int(self.chunk_s * self.device.fs), deliver=False)
        self._t_last = now

    def _steps(self, n: int, deliver: bool) -> None:
        step = max(1, int(self.device.fs * 0.01))
        while n > 0:
            k = min(step, n)
            data = self.device.step(k)
            down, stalled = self.device.fault_schedule()
            if deliver and not stalled and not down:
                self._out += data
            elif self.device.streaming:
                self.device.overruns += k if stalled else 0
            n -= k

    def read(self, timeout: float) -> bytes:
        if not self._open:
            raise LinkError("closed")
        if self.speed == 0:
            self._steps(int(self.chunk_s * self.device.fs), deliver=True)
        else:
            deadline = time.monotonic() + timeout
            while not self._out and time.monotonic() < deadline:
                time.sleep(min(self.chunk_s / self.speed, max(deadline - time.monotonic(), 0)))
                now = time.monotonic()
                due = (now - self._t_last) * self.speed * self.device.fs + self._carry  # type: ignore[operator]
                n = int(due)
                self._carry = due - n
                self._t_last = now
                self._steps(n, deliver=True)
                if self.device.fault_schedule()[0]:
                    break
        if self.device.fault_schedule()[0]:
            self._open = False
            self._out.clear()
            raise LinkError("simulated unplug")
        data, self._out = bytes(self._out), bytearray()
        return data

    def write(self, data: bytes) -> None:
        if not self._open:
            raise LinkError("closed")
        self._out += self.device.receive(data)

    def device_time(self) -> float:
        """The device's own time, which runs on through outages at ``speed`` times the host's
        (or skips an outage at once, at speed 0): by the host's clock, a 3 s outage at speed 0
        had been a gap of 0.24 s, and every later time early."""
        return self.device.time_s

    def close(self) -> None:
        self._open = False


class SimSource(LinkSource):
    """``sim:`` source. ``truth`` gives the ground-truth twitches of what was streamed."""

    def __init__(self, spec_text: str, spec: SynthSpec, faults: Faults | None = None, speed: float = 1.0,
                 **kw: object) -> None:
        self.device = VirtualDevice(spec, faults=faults)
        super().__init__(spec_text, SimLink(self.device, speed), **kw)  # type: ignore[arg-type]

    @property
    def truth(self):
        return self.device.synth.truth
