"""Optimising pixels: optimizers by name, the compiled optimisation loop over `RunState`, a line search.

Imports nothing of stylejax but `config` and `errors`.
"""
