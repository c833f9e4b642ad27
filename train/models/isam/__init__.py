"""ISAM-MTL (arXiv 2501.18089): config (config.py), model (model.py), training (fit.py), NIR export
(export_nir.py), data (data.py, sources.py), adaptation (adapt.py), evaluation (evaluate.py) and its family.

Only the light parts are imported here (no torch).
"""

from spikeport.train.models.isam.config import IsamConfig
from spikeport.train.models.isam.family import ISAM_MTL

__all__ = ["ISAM_MTL", "IsamConfig"]
