"""Training stage: synthetic EEG, spike encoding, model families (the spiking decoder first) and the training loop.

Typical use::

    ds = make_synthetic_motor_imagery(seed=0)
    train_idx, test_idx = split_trials(ds, seed=0)
    encoder = BandPowerSpikeEncoder().fit(ds.subset(train_idx))
    model = SpikingDecoder(DecoderConfig(n_inputs=encoder.n_inputs))
    fit(model, encoder.encode(ds.subset(train_idx)), ds.labels[train_idx])
    acc = accuracy(predict(model, encoder.encode(ds.subset(test_idx))), ds.labels[test_idx])

The names below load on first use (PEP 562), so `spikeport.train.models` (the family registry, which the CLI
reads for `--help`) imports without torch, norse or mne.
"""

from importlib import import_module

_EXPORTS = {
    "BandPowerSpikeEncoder": "encoding", "FittedEncoder": "encoding", "sigma_delta": "encoding",
    "TrainingHistory": "models.decoder.fit", "fit": "models.decoder.fit", "predict": "models.decoder.fit",
    "DecoderConfig": "models.decoder.config", "DecoderOutput": "models.decoder.model",
    "SpikingDecoder": "models.decoder.model", "accuracy": "tasks", "split_trials": "split",
    "CHANNEL_POSITIONS": "synthetic", "EEGDataset": "synthetic", "make_synthetic_motor_imagery": "synthetic",
}  # fmt: skip
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'spikeport.train' has no attribute {name!r}")
    value = getattr(import_module(f"spikeport.train.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
