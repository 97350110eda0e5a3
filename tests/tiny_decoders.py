"""Small random decoders for the one-pass transfer's tests: width 0.25, and a last kernel that is not zero (a new
decoder's is, so it paints uniform grey whatever its input)."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

from stylejax.network.decoder_files import save_decoder
from stylejax.nn.decoders import Decoder


def tiny_decoder(level: str, seed: int = 0) -> Decoder:
    """He-normal kernels and zero biases as `Decoder`'s own initialiser, drawn by numpy: a Decoder initialised
    eagerly compiles each random op for each shape (seconds per decoder on a busy 2-core machine)."""
    decoder = nnx.eval_shape(lambda: Decoder(level, width=0.25))
    rng = np.random.default_rng(seed)
    for i, conv in enumerate(decoder.convs):
        shape = conv.kernel.shape
        last = i == len(decoder.convs) - 1
        # The last kernel small, as VGG's features are far from unit scale: outputs vary around the bias 0.5
        # (std 0.06-0.24 for a 48x64 photo's features at relu1_1-relu4_1), little clipped.
        scale = 0.002 if last else np.sqrt(2.0 / np.prod(shape[:3]))
        conv.kernel = nnx.Param(jnp.asarray(scale * rng.normal(size=shape), jnp.float32))
        conv.bias = nnx.Param(jnp.full(shape[-1:], 0.5 if last else 0.0, jnp.float32))
    return decoder


def decoder_folder(folder: Path, levels: tuple[str, ...]) -> Path:
    """A decoders folder with a tiny random decoder per level."""
    for i, level in enumerate(levels):
        save_decoder(folder, tiny_decoder(level, seed=i), info={"steps": 0})
    return folder
