"""Continuous spike streams: causal end to end (a recording's prefix streams to the stream's prefix), cue steps."""

from __future__ import annotations

import numpy as np
from eeg_files import make_raw

from spikeport.train.data.eeg import PreprocessConfig, Standardizer, parse_event_mapping
from spikeport.train.data.eeg.preprocess import trials_from_raws
from spikeport.train.data.eeg.stream import stream_from_raw

CFG = PreprocessConfig(channels=("C3", "Cz", "C4"))
MAPPING = parse_event_mapping("T1=left,T2=right")


def test_stream_is_causal_and_marks_cues() -> None:
    trials = trials_from_raws([(make_raw(), 1, 1, "mem")], MAPPING, CFG, source="test", description="SYNTHETIC")
    std = Standardizer.fit(trials.dataset, np.arange(5))
    full = stream_from_raw(make_raw(), MAPPING, std, 1, cfg=CFG)
    assert full.spikes.shape == (26 * 40, 6) and full.step_seconds == 0.025
    # cues at 2, 6, 14, 18, 22 s (T0 at 10 s is not mapped): step = onset * 80 Hz / 2 samples per step
    assert full.cue_steps.tolist() == [80, 240, 560, 720, 880]
    assert full.labels.tolist() == [0, 1, 0, 1, 1]
    prefix = stream_from_raw(make_raw().crop(tmax=15.0, include_tmax=False), MAPPING, std, 1, cfg=CFG)
    np.testing.assert_array_equal(prefix.spikes, full.spikes[: prefix.spikes.shape[0]])
    assert prefix.cue_steps.tolist() == [80, 240, 560]
    assert full.info["standardization"] == "subject"
    assert stream_from_raw(make_raw(), MAPPING, std, 9, cfg=CFG).info["standardization"] == "pooled"
