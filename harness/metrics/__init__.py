"""Latency histograms, per-second time series, and their summaries."""
