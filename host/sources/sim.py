"""``sim:`` — the virtual device in-process, paced by the clock, over the real wire protocol."""

from __future__ import annotations

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
}


def parse_sim_options(opts: dict[str, str]) -> tuple[SynthSpec, Faults, float]:
    """Turn ``key=value`` options into (signal spec, faults, speed). Unknown keys are errors."""
    from myotwitch.host.errors import UsageError

    spec_kw: dict = {"duration_s": 10.0, "n_channels": 1}
    fault_kw: dict = {}
    speed = 1.0
    for key, value in opts.items():
        try:
            if key in SIM_OPTIONS:
                name, typ = SIM_OPTIONS[key]
                spec_kw[name] = None if (key == "mains" and value in ("0", "off", "none")) else typ(value)
            elif key in FAULT_OPTIONS:
                name, typ = FAULT_OPTIONS[key]
                fault_kw[name] = typ(value)
            elif key == "speed":
                speed = float(value)
            else:
                known = ", ".join(sorted([*SIM_OPTIONS, *FAULT_OPTIONS, "speed"]))
                raise UsageError(f"sim: unknown option '{key}' (known: {known})")
        except ValueError as e:
            raise UsageError(f"sim: option {key}={value!r} is not a number") from e
    spec = SceneSpec(**spec_kw)  # SynthSpec plus recurring units and crosstalk
    if not 250 <= spec.fs <= 4000:
        raise UsageError(f"sim: rate={spec.fs:g} is outside 250-4000 Hz")
    if not 1 <= spec.n_channels <= 8:
        raise UsageError(f"sim: channels={spec.n_channels} is outside 1-8")
    if not 0 <= spec.units <= 8:
        raise UsageError(f"sim: units={spec.units} is outside 0-8")
    if not 0 <= spec.crosstalk < 1:
        raise UsageError(f"sim: crosstalk={spec.crosstalk:g} must be a gain from 0 up to (not including) 1")
    return spec, Faults(**fault_kw), speed


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
        if self.device.fault_schedule()[0]:
            self._advance_while_closed()
            raise LinkError("simulated device is unplugged")
        self._open = True
        self._t_last = time.monotonic()

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
