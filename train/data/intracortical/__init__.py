"""Intracortical reaching data: readers (NeuroBench MATLAB v7.3, TrialData MAT v5, NWB), binning, causal windows,
splits, the synthetic reaching generator, and conversion to regression `TaskData` (docs/data-intracortical.md).

h5py, scipy.io and pynwb are imported inside the readers, so importing this package stays light.
"""

from spikeport.train.data.intracortical.binning import BinnedSession, bin_recording, causal_windows
from spikeport.train.data.intracortical.dataset import SplitWindows, load_recordings, split_windows
from spikeport.train.data.intracortical.files import LAYOUTS, detect_layout, read_recording, read_recordings
from spikeport.train.data.intracortical.recording import KINEMATICS, Recording
from spikeport.train.data.intracortical.splits import (
    bins_of_trials,
    split_first_minutes,
    split_sessions,
    split_trials_in_time,
)
from spikeport.train.data.intracortical.synthetic import SyntheticReachingConfig, make_synthetic_reaching
from spikeport.train.data.intracortical.taskdata import OUTPUT_NAMES, Windows, session_windows, to_task_data

__all__ = [
    "KINEMATICS", "LAYOUTS", "OUTPUT_NAMES", "BinnedSession", "Recording", "SplitWindows", "SyntheticReachingConfig",
    "Windows", "bin_recording", "bins_of_trials", "causal_windows", "detect_layout", "load_recordings",
    "make_synthetic_reaching", "read_recording", "read_recordings", "session_windows", "split_first_minutes",
    "split_sessions", "split_trials_in_time", "split_windows", "to_task_data",
]  # fmt: skip
