"""Export and import: spikeport models to NIR graphs, NIR files in and out, and NIR's float semantics."""

from spikeport.export.network import ParsedNetwork, Population, Synapse
from spikeport.export.nir_extension import find_extensions
from spikeport.export.nir_float import FloatTrace, simulate_float
from spikeport.export.nir_io import (
    graph_dt,
    model_to_nir,
    nir_graphs_equal,
    read_nir,
    spikeport_facts,
    write_nir,
)
from spikeport.export.nir_network import network_to_nir, networks_close
from spikeport.export.nir_parse import parse_nir

__all__ = [
    "FloatTrace",
    "ParsedNetwork",
    "Population",
    "Synapse",
    "find_extensions",
    "graph_dt",
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
