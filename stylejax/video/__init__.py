"""Video: optical flow, the frame solver, reading and writing video files.

Imports `solve` and the layers below it.
"""
