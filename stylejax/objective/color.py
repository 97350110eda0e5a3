"""Colour control: keeping the content's colours after (luminance only), or giving the style its colours
before (histogram or Lab-moment matching, Gatys et al. 2017). Pure and jit-able."""

from __future__ import annotations

import functools

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


def match_histograms(image: jax.Array, reference: jax.Array) -> jax.Array:
    """image (h, w, 3) with each channel's values remapped so their histogram is `reference`'s (any size).

    Each value goes to the reference's quantile at the value's mid-rank, so equal values stay equal
    (a flat painted area stays flat) and the ordering of values within a channel is kept.
    """

    def channel(values: jax.Array, ref: jax.Array) -> jax.Array:
        ordered = jnp.sort(values)
        below = jnp.searchsorted(ordered, values, side="left")
        upto = jnp.searchsorted(ordered, values, side="right")
        quantile = (below + upto) / (2 * values.size)
        ref_quantiles = (jnp.arange(ref.size) + 0.5) / ref.size
        return jnp.interp(quantile, ref_quantiles, jnp.sort(ref))

    matched = jax.vmap(channel, in_axes=1, out_axes=1)(image.reshape(-1, 3), reference.reshape(-1, 3))
    return matched.reshape(image.shape).astype(jnp.float32)


# sRGB (D65) -> CIE XYZ, and the D65 white point.
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_WHITE = _RGB_TO_XYZ.sum(axis=1)
_RGB_TO_XYZ_WHITE = (_RGB_TO_XYZ / _WHITE[:, None]).astype(np.float32)  # XYZ relative to white: white is (1, 1, 1)
_XYZ_WHITE_TO_RGB = np.linalg.inv(_RGB_TO_XYZ / _WHITE[:, None]).astype(np.float32)
_HIGHEST = jax.lax.Precision.HIGHEST  # float32 products on every backend (TPUs default to bfloat16 passes)


# CIELAB from f(X/Xn), f(Y/Yn), f(Z/Zn) and back, as matrices: products, not indexing of the last axis, which
# jax2onnx (an ONNX export of the one-pass transfer, symbolic sizes) converts to a gather it cannot lower.
_F_TO_LAB = np.array([[0.0, 500.0, 0.0], [116.0, -500.0, 200.0], [0.0, 0.0, -200.0]], np.float32)
_LAB_TO_F = np.array([[1 / 116, 1 / 116, 1 / 116], [1 / 500, 0.0, 0.0], [0.0, 0.0, -1 / 200]], np.float32)
_L_OFFSET = np.array([16.0, 0.0, 0.0], np.float32)


def rgb_to_lab(image: jax.Array) -> jax.Array:
    """sRGB (..., 3) in [0, 1] -> CIELAB (..., 3): L in [0, 100]."""
    linear = jnp.where(image <= 0.04045, image / 12.92, ((image + 0.055) / 1.055) ** 2.4)
    xyz = jnp.matmul(linear, _RGB_TO_XYZ_WHITE.T, precision=_HIGHEST)
    f = jnp.where(xyz > (6 / 29) ** 3, jnp.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return jnp.matmul(f, _F_TO_LAB, precision=_HIGHEST) - _L_OFFSET.reshape((1,) * (image.ndim - 1) + (3,))


def lab_to_rgb(lab: jax.Array) -> jax.Array:
    """CIELAB (..., 3) -> sRGB (..., 3), clipped to [0, 1]."""
    f = jnp.matmul(lab + _L_OFFSET.reshape((1,) * (lab.ndim - 1) + (3,)), _LAB_TO_F, precision=_HIGHEST)
    xyz = jnp.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29))
    linear = jnp.clip(jnp.matmul(xyz, _XYZ_WHITE_TO_RGB.T, precision=_HIGHEST), 0.0, 1.0)
    return jnp.clip(jnp.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055), 0.0, 1.0)


def _sqrtm(covariance: jax.Array, inverse: bool = False) -> jax.Array:
    values, vectors = jnp.linalg.eigh(covariance)
    values = jnp.maximum(values, 1e-6)  # a one-colour image has a singular covariance
    return (vectors * (values ** (-0.5 if inverse else 0.5))[None, :]) @ vectors.T


def match_lab_moments(image: jax.Array, reference: jax.Array) -> jax.Array:
    """image (h, w, 3) moved linearly in CIELAB so its colours' mean and covariance are `reference`'s.

    The map x -> C_r^1/2 C_i^-1/2 (x - m_i) + m_r (Gatys et al. 2017's colour matching, in Lab so
    that distances are perceptual), then back to sRGB, clipped.
    """
    lab, ref = rgb_to_lab(image).reshape(-1, 3), rgb_to_lab(reference).reshape(-1, 3)
    mean, ref_mean = lab.mean(0), ref.mean(0)
    transform = _sqrtm(jnp.cov(ref.T)) @ _sqrtm(jnp.cov(lab.T), inverse=True)
    moved = (lab - mean[None]) @ transform.T + ref_mean[None]
    return lab_to_rgb(moved).reshape(image.shape).astype(jnp.float32)


@functools.partial(jax.jit, static_argnums=2)
def transfer_colors(style: jax.Array, content: jax.Array, method: str) -> jax.Array:
    """The style image (h, w, 3) recoloured with the content image's colours (`COLOR_TRANSFERS`)."""
    if method == "histogram":
        return match_histograms(style, content)
    if method == "lab-moments":
        return match_lab_moments(style, content)
    return style
