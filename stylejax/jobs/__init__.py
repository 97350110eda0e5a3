"""Resumable bulk jobs on disk: inputs, the manifest, checkpoints, the one runner of image jobs and their
work (optimised, through a style network, through the one-pass transfer), video jobs, the Ray fleet.

Imports `video` and the layers below it (`network`, `solve`, ...), not `bench`.
"""
