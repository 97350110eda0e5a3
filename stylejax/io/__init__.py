"""Images in and out: decoding and atomic writes, region masks, contact sheets, the demo's sample images.

Imports nothing of stylejax but `config` and `errors`.
"""
