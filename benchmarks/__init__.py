"""Benchmarks: scripts a person reruns to measure speed, cold start and memory (see README.md)."""
