"""Recorded EEG through MNE: readers (EEGMMIDB, BCI Competition IV 2a, any MNE-readable file with an event
mapping), causal preprocessing and spike encoding, and subject-aware splits. See docs/data-eeg.md.

MNE is imported inside the functions that read or filter, so importing this package stays light.
"""

from spikeport.train.data.eeg.eegmmidb import EEGMMIDB_RUNS, EEGMMIDB_TASKS, eegmmidb_runs, load_eegmmidb
from spikeport.train.data.eeg.encode import DeltaSpikeEncoder, SpikeArrays, Standardizer, spike_arrays
from spikeport.train.data.eeg.events import EventMapping, parse_event_mapping
from spikeport.train.data.eeg.preprocess import MOTOR_CHANNELS, EEGTrials, PreprocessConfig, bandpass_epochs
from spikeport.train.data.eeg.readers import BCI2A_EVENTS, load_bci_iv_2a, load_bci_iv_2a_moabb, load_recordings
from spikeport.train.data.eeg.sources import DEFAULT_SUBJECTS, EEG_SOURCES, load_source
from spikeport.train.data.eeg.splits import (
    Split,
    few_shot_split,
    loso_splits,
    within_subject_folds,
    within_subject_split,
)
from spikeport.train.data.eeg.stream import SpikeStream, stream_from_raw

__all__ = [
    "BCI2A_EVENTS",
    "DEFAULT_SUBJECTS",
    "EEGMMIDB_RUNS",
    "EEGMMIDB_TASKS",
    "EEG_SOURCES",
    "MOTOR_CHANNELS",
    "DeltaSpikeEncoder",
    "EEGTrials",
    "EventMapping",
    "PreprocessConfig",
    "SpikeArrays",
    "SpikeStream",
    "Split",
    "Standardizer",
    "bandpass_epochs",
    "eegmmidb_runs",
    "few_shot_split",
    "load_bci_iv_2a",
    "load_bci_iv_2a_moabb",
    "load_eegmmidb",
    "load_recordings",
    "load_source",
    "loso_splits",
    "parse_event_mapping",
    "spike_arrays",
    "stream_from_raw",
    "within_subject_folds",
    "within_subject_split",
]
