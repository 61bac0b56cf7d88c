"""dbarena: a polyglot persistence benchmarking harness."""

__version__ = "0.1.0"
