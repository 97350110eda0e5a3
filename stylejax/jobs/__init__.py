"""Resumable bulk jobs on disk: inputs, the manifest, checkpoints, local jobs, video jobs, the Ray fleet.

Imports `video`, `solve` and the layers below it.
"""
