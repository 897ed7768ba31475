"""Benchmark harness: run with `python benchmarks/run.py` (see benchmarks/run.py)."""
