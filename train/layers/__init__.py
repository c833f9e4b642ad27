"""Trainable spiking layers beyond the decoder: spike-driven attention and a per-subject Hebbian memory.

Both keep Loihi's timing and expose plain attributes, a frozen config and their exact discrete update; their NIR
codecs (`attention_nir`, `memory_nir`, registered in `nir_codecs.EXTENSIONS`) write them as extension blocks.
"""

from spikeport.simulators.timing import delayed
from spikeport.train.layers.associative_memory import HebbianAssociativeMemory, MemoryConfig, Normalization, SubjectId
from spikeport.train.layers.attention import (
    AttentionConfig,
    AttentionOutput,
    ReparamLinear,
    SpikeDrivenAttention,
    attention_accumulates,
)
from spikeport.train.layers.attention_nir import attention_to_nir
from spikeport.train.layers.delay import threshold_unit
from spikeport.train.layers.memory_nir import memory_to_nir
from spikeport.train.layers.multi_timescale import MultiTimescaleLIF, TimescaleConfig
from spikeport.train.layers.nir_codecs import attention_from_nir, extension_from_nir, memory_from_nir, memory_subject

__all__ = [
    "AttentionConfig", "AttentionOutput", "HebbianAssociativeMemory", "MemoryConfig", "MultiTimescaleLIF",
    "Normalization", "ReparamLinear", "SpikeDrivenAttention", "SubjectId", "TimescaleConfig",
    "attention_accumulates", "attention_from_nir", "attention_to_nir", "delayed", "extension_from_nir",
    "memory_from_nir", "memory_subject", "memory_to_nir", "threshold_unit",
]  # fmt: skip
