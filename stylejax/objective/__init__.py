"""The Gatys objective: loss terms, the objective and its targets, colour control, crop-by-crop features.

Imports `nn` and `io` below it.
"""
