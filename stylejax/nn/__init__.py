"""The model and its weights: the Flax VGG, the weights cache, porting from other frameworks, safe readers.

Imports nothing of stylejax but `config` and `errors`.
"""
