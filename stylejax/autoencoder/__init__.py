"""Any painting in one pass: feature transforms (WCT, AdaIN) between the VGG encoder and the decoders
(`stylejax.nn.decoders`), the cascade that runs them level after level and its settings, and the decoders'
training objectives (reconstruction, AdaIN's) and step. Pure and jit-able: no files.

Imports `objective`, `optim`, `runtime`, `nn` and `io` below it; `solve` and the layers above may import it.
"""
