"""Solving problems: the batch solver and its sharding, scales, the coarse-to-fine driver, tiles, memory
fitting, `stylize`, `stylize_batch` and `sweep`.

Imports `objective`, `optim`, `runtime`, `nn` and `io` below it.
"""
