"""myotwitch signal processing: pure numpy/scipy, no I/O, no threads.

Shapes are ``(channels, samples)`` everywhere; samples are microvolts, times are
seconds from the start of the recording. Every streaming stage keeps its own state
so that feeding a recording whole or in arbitrary chunks gives identical events.
"""

from myotwitch.dsp.config import ConfigError, DetectorConfig
from myotwitch.dsp.episodes import EpisodeGrouper
from myotwitch.dsp.events import Episode, Event, Gap
from myotwitch.dsp.pipeline import DetectionResult, Pipeline, detect

__all__ = [
    "ConfigError",
    "DetectionResult",
    "DetectorConfig",
    "Episode",
    "EpisodeGrouper",
    "Event",
    "Gap",
    "Pipeline",
    "detect",
]
