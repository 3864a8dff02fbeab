"""Benchmark scripts that print figures. Run them as modules, e.g. ``python -m benchmarks.queue``,
so that benchmarks/queue.py never shadows the standard library's queue module."""
