"""Shared device helpers, below both `solve` and `network`: device memory and XLA's count of a program's
need, shape buckets (similar shapes share one compiled program) and the memory-checked programs of
bucketed jobs, meshes over local devices.

Imports nothing of stylejax but `io`, `config` and `errors`.
"""
