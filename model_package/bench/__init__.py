"""Benchmarks, each printing its figures beside a reference in one run: ``python -m model_package.bench NAME``."""
