"""Benchmarks: throughput, tail latency and scaling (see benchmarks/README.md)."""
