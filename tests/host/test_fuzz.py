"""Fuzzers in the suite, with bounded example counts (#16): the assembler against a model,
the decoder and assembler on damaged streams, and mutants of EDF and CSV files.
A longer run: python -m benchmarks.fuzz --minutes 10"""

import logging
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import fuzz


@pytest.fixture(autouse=True)
def _quiet():
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(fuzz.OPS), min_size=1, max_size=80),
       st.lists(st.integers(20 * fuzz.FS, (1 << 32) - 20 * fuzz.FS), min_size=1, max_size=4))
def test_assembler_matches_the_model(ops, offsets):
    fuzz.assembler_case(ops, offsets)


def test_assembler_model_covers_the_reset_of_the_issue():
    # InfoFrame, 60,000 samples, InfoFrame again, counters from 0: nothing may be lost
    fuzz.assembler_case(["ok"] * 3000 + ["reset"] + ["ok"] * 1500, [1 << 31])
    fuzz.assembler_case(["ok"] * 300 + ["silent_reset"] + ["ok"] * 100, [1 << 31])


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_decoder_and_assembler_survive_damaged_streams(seed):
    fuzz.decoder_case(random.Random(seed))


@pytest.mark.parametrize("kind", ["edf", "csv"])
def test_reader_mutants_end_in_a_result_or_one_line(tmp_path, kind):
    base = fuzz.make_edf(str(tmp_path / "base.edf")) if kind == "edf" else fuzz.make_csv()
    rng = random.Random(20261129)
    outcomes = [fuzz.file_case(kind, base, rng, str(tmp_path)) for _ in range(40)]
    assert set(outcomes) <= {"ok", "refused"}
