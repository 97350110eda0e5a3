"""Feed-forward style networks: the training step, data, the training loop and its checkpoints, the model
directory, `load_network` and export.

Imports `solve` and the layers below it; `video`, `jobs` and `cli` may import it.
"""
