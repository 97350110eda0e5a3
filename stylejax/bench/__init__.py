"""Benchmarks: fair optimizer comparisons on real problems, and their reports.

Imports `solve` and the layers below it (not `video` or `network`).
"""
