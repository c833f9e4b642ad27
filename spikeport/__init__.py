"""spikeport: spiking neural decoders from PyTorch training to Loihi-class neuromorphic chips, bit-true.

The pipeline's stages are subpackages: `spikeport.train` (models, data, training), `spikeport.export` (NIR),
`spikeport.targets` (quantization, chips, energy) and `spikeport.simulators` (integer reference and Lava).
`spikeport.ir` is the integer deploy graph they hand to each other. Heavy dependencies load lazily.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
