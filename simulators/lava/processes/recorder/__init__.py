"""`StateRecorder`: records a population's spikes, u and v at every step into a memory-mapped file."""
