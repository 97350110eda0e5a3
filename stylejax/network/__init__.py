"""Feed-forward style networks: the training step, data, the training loop and its checkpoints, the model
directory, `load_network`, bucketed inference, export and `refine`.

Imports the layers below `solve`, and `solve` itself only in `refine` (refining is solving); `video`, `jobs`
and `cli` may import it.
"""
