"""Training stage: synthetic EEG, spike encoding, the Norse spiking decoder and its training loop.

Typical use::

    ds = make_synthetic_motor_imagery(seed=0)
    train_idx, test_idx = split_trials(ds, seed=0)
    encoder = BandPowerSpikeEncoder().fit(ds.subset(train_idx))
    model = SpikingDecoder(DecoderConfig(n_inputs=encoder.n_inputs))
    fit(model, encoder.encode(ds.subset(train_idx)), ds.labels[train_idx])
    acc = accuracy(predict(model, encoder.encode(ds.subset(test_idx))), ds.labels[test_idx])
"""

from spikeport.train.encoding import BandPowerSpikeEncoder, FittedEncoder, sigma_delta
from spikeport.train.fit import TrainingHistory, accuracy, fit, predict, split_trials
from spikeport.train.model import DecoderConfig, DecoderOutput, SpikingDecoder
from spikeport.train.synthetic import CHANNEL_POSITIONS, EEGDataset, make_synthetic_motor_imagery

__all__ = [
    "CHANNEL_POSITIONS",
    "BandPowerSpikeEncoder",
    "DecoderConfig",
    "DecoderOutput",
    "EEGDataset",
    "FittedEncoder",
    "SpikingDecoder",
    "TrainingHistory",
    "accuracy",
    "fit",
    "make_synthetic_motor_imagery",
    "predict",
    "sigma_delta",
    "split_trials",
]
