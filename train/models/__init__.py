"""Model families: one folder per family, each declaring its task, readout, data and hooks, and a registry by name.

`ModelFamily` (family.py) is what a family declares, `Readout` (readout.py) how its integer output becomes
predictions, and `registry.py` finds families by name. The spiking decoder (`decoder/`) is the built-in family.
"""

from spikeport.train.models.family import ModelFamily, RunConfig, TaskData, TrainResult
from spikeport.train.models.readout import DEFAULT_READOUT, Readout, readout_of, readout_scale
from spikeport.train.models.registry import DEFAULT_FAMILY, family_names, get_family, register_family

__all__ = [
    "DEFAULT_FAMILY",
    "DEFAULT_READOUT",
    "ModelFamily",
    "Readout",
    "RunConfig",
    "TaskData",
    "TrainResult",
    "family_names",
    "get_family",
    "readout_of",
    "readout_scale",
    "register_family",
]
