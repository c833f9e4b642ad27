"""The spiking decoder family: config (config.py), model (model.py), training (fit.py) and its registration.

Only the light parts are imported here; the torch model is `spikeport.train.SpikingDecoder` (or
`spikeport.train.models.decoder.model`).
"""

from spikeport.train.models.decoder.config import DecoderConfig
from spikeport.train.models.decoder.family import DECODER, make_motor_imagery_data

__all__ = ["DECODER", "DecoderConfig", "make_motor_imagery_data"]
