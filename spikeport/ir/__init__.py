"""The integer deploy graph: spikeport's own IR of a network on a Loihi-class chip.

Produced once by quantization (`spikeport.targets.quantize`) and consumed by everything downstream: the
reference simulator, the Lava builder, the op counter and the report.
"""

from spikeport.ir.attention import AttentionInt
from spikeport.ir.graph import DeployGraph, assert_graph_equal
from spikeport.ir.io import load_deploy_graph, save_deploy_graph
from spikeport.ir.nodes import NODE_TYPES, DenseInt, LIFInt, LIFResetInt, Node, SpikeInput, TernaryLIFInt
from spikeport.ir.plastic import PlasticDenseInt

__all__ = [
    "NODE_TYPES",
    "AttentionInt",
    "DenseInt",
    "DeployGraph",
    "LIFInt",
    "LIFResetInt",
    "Node",
    "PlasticDenseInt",
    "SpikeInput",
    "TernaryLIFInt",
    "assert_graph_equal",
    "load_deploy_graph",
    "save_deploy_graph",
]
