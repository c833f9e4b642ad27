"""Float baselines (ridge, GRU, CSP, EEGNet) trained on the same splits as the spiking models."""
