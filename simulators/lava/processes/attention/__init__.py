"""`SpikeAttention`: spike-driven self-attention (`AttentionInt`) as one custom Lava process with a `fixed_pt` model."""
