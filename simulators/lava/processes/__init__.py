"""spikeport's own Lava processes, one folder each (Lava imports every module in a process's folder)."""
