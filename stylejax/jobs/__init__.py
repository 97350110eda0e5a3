"""Resumable bulk jobs on disk: inputs, the manifest, checkpoints, image jobs, jobs through a
style network, video jobs, the Ray fleet.

Imports `video` and the layers below it (`network`, `solve`, ...), not `bench`.
"""
