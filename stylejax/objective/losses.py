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

    Args:
      features: (..., h, w, c) activations of one layer.

    Returns:
      (..., c, c) float32 Gram matrices.
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
    """Weighted mean squared error between activations and the content image's activations.

    Args:
      features: {layer: (..., h, w, c)} activations of the image.
      targets: {layer: (..., h, w, c)} activations of the content image; only these layers count.
      layer_weights: {layer: weight}.

    Returns:
      The f32 scalar sum over layers of weight * mean squared difference.
    """
    # In f32 whatever the features' dtype (bf16 under mixed precision): a line search compares these.
    return sum(layer_weights[name] * jnp.mean(jnp.square(features[name].astype(jnp.float32) - targets[name]))
               for name in targets)


def style_loss(features: dict[str, jax.Array], target_grams: dict[str, jax.Array],
               layer_weights: dict[str, jax.Array]) -> jax.Array:
    """Weighted mean squared error between Gram matrices and the (blended) style Gram matrices.

    Args:
      features: {layer: (..., h, w, c)} activations of the image.
      target_grams: {layer: (c, c)} style Gram matrices, shared by every leading index; only these layers count.
      layer_weights: {layer: weight}.

    Returns:
      The scalar sum over layers of weight * mean squared difference of the Gram matrices.
    """

    def layer_loss(name):
        g = gram(features[name])
        return jnp.mean(jnp.square(g - jnp.broadcast_to(target_grams[name], g.shape)))

    return sum(layer_weights[name] * layer_loss(name) for name in target_grams)


def pooled_masks(masks: jax.Array, layers: tuple[str, ...] | list[str]) -> dict[str, jax.Array]:
    """Region masks (..., h, w, 1) at each layer's resolution: {"reluB_N": (..., h_B, w_B, 1)}.

    Block B's features come after B - 1 2x2 poolings that floor odd sides, so the mask is average-pooled
    the same way: each feature position gets the share of its pixels that the region covers.
    """
    out = {}
    for name in layers:
        m = masks
        for _ in range(int(name[4]) - 1):
            h, w = m.shape[-3] // 2, m.shape[-2] // 2
            m = m[..., : 2 * h, : 2 * w, :].reshape(*m.shape[:-3], h, 2, w, 2, 1).mean(axis=(-4, -2))
        out[name] = m
    return out


def guided_gram(features: jax.Array, masks: jax.Array) -> jax.Array:
    """Gatys et al. 2017's guided Gram matrices: features (..., h, w, c), masks (r, h, w, 1) in [0, 1] ->
    (..., r, c, c), region r's sum_p m_p f_p f_p^T / sum_p m_p.

    Written as the Gram of sqrt(m) f (the fast `gram`, normalised by h*w) over the mask's mean.
    """
    lead = (1,) * (features.ndim - 3)
    weighted = (features[..., None, :, :, :] * jnp.sqrt(masks).reshape(*lead, *masks.shape)).astype(features.dtype)
    mass = jnp.maximum(jnp.mean(masks, axis=(-3, -2, -1)), 1e-8)
    return gram(weighted) / mass.reshape(*lead, -1, 1, 1)


def guided_style_loss(features: dict[str, jax.Array], target_grams: dict[str, jax.Array],
                      masks: dict[str, jax.Array], layer_weights: dict[str, jax.Array]) -> jax.Array:
    """The style loss of an image whose regions each take their own style (Gatys et al. 2017).

    features: {layer: (1, h, w, c)}; target_grams: {layer: (r, c, c)}, region r's style; masks:
    {layer: (r, h, w, 1)} (`pooled_masks`). Each region's Gram error is weighted by the share of the
    image it covers, so a region's pixels are pulled as hard as in an unmasked run, and one mask
    covering everything gives exactly `style_loss`. Pixels outside every mask get no style term.
    """

    def layer_loss(name):
        g = guided_gram(features[name], masks[name])[0]
        share = jnp.mean(masks[name], axis=(-3, -2, -1))
        return jnp.sum(share * jnp.mean(jnp.square(g - target_grams[name]), axis=(-2, -1)))

    return sum(layer_weights[name] * layer_loss(name) for name in target_grams)


def total_variation(image: jax.Array) -> jax.Array:
    """Mean squared difference between neighbouring pixels (a smoothness prior).

    Args:
      image: (..., h, w, c).

    Returns:
      The scalar mean over vertical neighbours plus that over horizontal ones.
    """
    dy = jnp.diff(image, axis=-3)
    dx = jnp.diff(image, axis=-2)
    return jnp.mean(jnp.square(dy)) + jnp.mean(jnp.square(dx))


def temporal_loss(image: jax.Array, warped: jax.Array, reliability: jax.Array) -> jax.Array:
    """Mean of reliability * (image - warped)^2 over every pixel and channel (Ruder et al. 2016).

    Args:
      image: (..., h, w, 3) the frame being optimised.
      warped: (..., h, w, 3) the previous output warped into this frame.
      reliability: (..., h, w, 1) in [0, 1], 0 where the previous frame says nothing about this one
        (disocclusions, motion boundaries).

    Returns:
      The scalar mean.
    """
    return jnp.mean(reliability * jnp.square(image - warped))
