"""Export and import: spikeport models to NIR graphs, NIR files in and out, and NIR's float semantics."""

from spikeport.export.nir_extension import (
    attention_from_nir,
    attention_to_nir,
    extension_from_nir,
    find_extensions,
    memory_from_nir,
    memory_to_nir,
)
from spikeport.export.nir_float import FloatTrace, simulate_float
from spikeport.export.nir_graph import ParsedNetwork, Population, Synapse, parse_nir
from spikeport.export.nir_io import (
    graph_dt,
    model_to_nir,
    nir_graphs_equal,
    read_nir,
    spikeport_facts,
    write_nir,
)
from spikeport.export.nir_network import network_to_nir, networks_close

__all__ = [
    "FloatTrace",
    "ParsedNetwork",
    "Population",
    "Synapse",
    "attention_from_nir",
    "attention_to_nir",
    "extension_from_nir",
    "find_extensions",
    "graph_dt",
    "memory_from_nir",
    "memory_to_nir",
    "model_to_nir",
    "network_to_nir",
    "networks_close",
    "nir_graphs_equal",
    "parse_nir",
    "read_nir",
    "simulate_float",
    "spikeport_facts",
    "write_nir",
]
