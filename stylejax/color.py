"""Colour-space helpers for preserving the content image's colours. Pure and jit-able."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# NTSC YIQ: Y carries luminance, I and Q the chroma (as jcjohnson/neural-style's -original_colors).
# NumPy, not jnp: importing stylejax must not start a JAX backend (jax.distributed needs it unstarted).
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.595716, -0.274453, -0.321263],
                        [0.211456, -0.522591, 0.311135]])


def rgb_to_yiq(image: jax.Array) -> jax.Array:
    """image: (..., 3) RGB -> (..., 3) YIQ."""
    return image @ _RGB_TO_YIQ.T.astype(np.float32)


def yiq_to_rgb(image: jax.Array) -> jax.Array:
    """image: (..., 3) YIQ -> (..., 3) RGB."""
    return image @ np.linalg.inv(_RGB_TO_YIQ).T.astype(np.float32)


def keep_colors(stylized: jax.Array, content: jax.Array) -> jax.Array:
    """The stylized image's luminance with the content image's chroma, clipped to [0, 1]."""
    y = rgb_to_yiq(stylized)[..., :1]
    iq = rgb_to_yiq(content)[..., 1:]
    return jnp.clip(yiq_to_rgb(jnp.concatenate([y, iq], axis=-1)), 0.0, 1.0)
