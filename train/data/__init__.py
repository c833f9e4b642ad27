"""Data readers of recorded and synthetic neural data (EEG, intracortical), one subpackage per modality."""
