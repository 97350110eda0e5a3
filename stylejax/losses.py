"""Gatys et al. loss terms on named VGG activations. Pure and jit-able."""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_vjp
def gram(features: jax.Array) -> jax.Array:
    """features: (..., h, w, c) -> (..., c, c) Gram matrix normalised by the number of positions h*w.

    Normalising by position count makes a layer's Gram independent of image size, so a style image
    of any size gives a usable target, and per-layer losses stay on comparable scales. Its gradient is
    one matmul, F @ (dG + dG^T) / (h*w), where autodiff would make two plus transposed copies of F
    (a `custom_vjp`: reverse mode only, so `jax.jvp` through it raises).
    """
    *lead, h, w, c = features.shape
    # Positions as one contracting axis: contracting h and w separately makes XLA copy F transposed.
    flat = features.reshape(*lead, h * w, c)
    return jnp.einsum("...pc,...pd->...cd", flat, flat, preferred_element_type=jnp.float32) / (h * w)


def _gram_fwd(features: jax.Array) -> tuple[jax.Array, jax.Array]:
    return gram(features), features


def _gram_bwd(features: jax.Array, cotangent: jax.Array) -> tuple[jax.Array]:
    h, w = features.shape[-3], features.shape[-2]
    sym = ((cotangent + jnp.swapaxes(cotangent, -1, -2)) / (h * w)).astype(features.dtype)
    grad = jnp.einsum("...hwc,...cd->...hwd", features, sym, preferred_element_type=jnp.float32)
    return (grad.astype(features.dtype),)


gram.defvjp(_gram_fwd, _gram_bwd)


def content_loss(features: dict[str, jax.Array], targets: dict[str, jax.Array],
                 layer_weights: dict[str, jax.Array]) -> jax.Array:
    """Weighted mean squared error between activations and the content image's activations."""
    return sum(layer_weights[name] * jnp.mean(jnp.square(features[name] - targets[name]))
               for name in targets)


def style_loss(features: dict[str, jax.Array], target_grams: dict[str, jax.Array],
               layer_weights: dict[str, jax.Array]) -> jax.Array:
    """Weighted mean squared error between Gram matrices and the (blended) style Gram matrices.

    features: {layer: (..., h, w, c)}; target_grams: {layer: (c, c)}, shared by every leading index.
    """

    def layer_loss(name):
        g = gram(features[name])
        return jnp.mean(jnp.square(g - jnp.broadcast_to(target_grams[name], g.shape)))

    return sum(layer_weights[name] * layer_loss(name) for name in target_grams)


def total_variation(image: jax.Array) -> jax.Array:
    """image: (..., h, w, c) -> mean squared difference between neighbouring pixels (smoothness prior)."""
    dy = jnp.diff(image, axis=-3)
    dx = jnp.diff(image, axis=-2)
    return jnp.mean(jnp.square(dy)) + jnp.mean(jnp.square(dx))


def temporal_loss(image: jax.Array, warped: jax.Array, reliability: jax.Array) -> jax.Array:
    """Mean of reliability * (image - warped)^2 over every pixel and channel (Ruder et al. 2016).

    image, warped: (..., h, w, 3); reliability: (..., h, w, 1) in [0, 1], 0 where the previous frame
    says nothing about this one (disocclusions, motion boundaries).
    """
    return jnp.mean(reliability * jnp.square(image - warped))
