"""Evaluation statistics shared by model families and baselines (Wilson intervals, binomial tests, tables)."""
