"""Video: optical flow, the frame solver, frames through a style network, reading and writing video files.

Imports `network`, `solve` and the layers below them.
"""
