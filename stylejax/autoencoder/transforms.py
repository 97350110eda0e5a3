"""Feature transforms that give content features a painting's statistics: AdaIN and WCT.

Pure functions of one image's features (h, w, c), for `jax.jit` and `jax.vmap` (batch with vmap; the
content and the style may differ in size). Statistics are computed in float32 whatever the features'
dtype, with full-precision matmuls (accelerators otherwise multiply float32 in bfloat16 passes), and the
result is cast back to the content's dtype. `alpha` blends the result with the content features:
0 returns them unchanged, 1 is the full transform (a user's value is checked before, not here).

An optional mask (h, w) or (h, w, 1) of weights in [0, 1] restricts a side's statistics to a region;
`by_regions` gives each region of the content its own style.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from stylejax.errors import StyleJaxError

SQRT_METHODS = ("eigh", "newton_schulz")
# The covariance regulariser, relative to its Frobenius norm (about its largest eigenvalue): C + EPS |C|_F I.
# It lifts the eigenvalues float32 rounding leaves below zero (-2e-5 of the mean at relu5_1 of a 256 px
# image, 256 positions for 512 channels: a Newton-Schulz iteration diverges on a negative eigenvalue),
# bounds how much whitening amplifies directions the content barely uses, and, as every eigenvalue of
# C / |C|_F is then at least EPS, fixes the Newton-Schulz iterations that suffice: log(1 / EPS) / log(2.25)
# to grow the smallest, about 4 more to converge quadratically. Measured on VGG16 features of two photos at
# 256 px, relu1_1 to relu5_1: Newton-Schulz is within 2.5e-5 of eigh (largest difference over the largest
# feature) from 14 iterations; 10 leave 0.8-3e-2.
EPS = 1e-4
NEWTON_SCHULZ_ITERATIONS = 16
_HIGHEST = jax.lax.Precision.HIGHEST


class StyleStatistics(NamedTuple):
    """One style image's statistics at one layer, all a transform needs of it.

    Attributes:
      mean: (c,) per-channel mean.
      spread: AdaIN's (c,) per-channel variance, or WCT's (c, c) colouring matrix.
    """

    mean: jax.Array
    spread: jax.Array


def moments(features: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean (c,) and covariance (c, c) of features (h, w, c), over the positions `mask` weights.

    The covariance is normalised by the weight (h * w without a mask), not by one less: a transform that
    maps one covariance onto another does so in either convention.
    """
    x, weights = _positions(features, mask)
    total = jnp.sum(weights)
    mean = jnp.sum(weights * x, axis=0, keepdims=True) / total
    centred = x - mean
    return mean[0], jnp.matmul((weights * centred).T, centred, precision=_HIGHEST) / total


def adain(content: jax.Array, style: jax.Array, alpha: float | jax.Array = 1.0, *, eps: float = 1e-5,
          content_mask: jax.Array | None = None, style_mask: jax.Array | None = None) -> jax.Array:
    """Adaptive instance normalisation (Huang & Belongie 2017): each channel of the content features moved to
    the style's mean and standard deviation.

    Args:
      content: (h, w, c) features of the photo.
      style: (h', w', c) features of the painting at the same layer.
      alpha: style strength in [0, 1].
      eps: added to both variances before the square root (AdaIN's 1e-5).
      content_mask, style_mask: optional (h, w) weights: whose statistics count (see the module).

    Returns:
      (h, w, c) features in the content's dtype.
    """
    _check(content, style)
    return adain_to(content, adain_statistics(style, style_mask), alpha, eps=eps, content_mask=content_mask)


def adain_statistics(style: jax.Array, mask: jax.Array | None = None) -> StyleStatistics:
    """What AdaIN takes from a style's features (h, w, c): their per-channel mean and variance."""
    mean, var = _mean_var(style, mask)
    return StyleStatistics(mean[0, 0], var[0, 0])


def adain_to(content: jax.Array, style: StyleStatistics, alpha: float | jax.Array = 1.0, *, eps: float = 1e-5,
             content_mask: jax.Array | None = None) -> jax.Array:
    """`adain` with the style's statistics computed once (`adain_statistics`): a job's one painting."""
    c_mean, c_var = _mean_var(content, content_mask)
    x = content.astype(jnp.float32)
    moved = (x - c_mean) * jnp.sqrt((style.spread[None, None] + eps) / (c_var + eps)) + style.mean[None, None]
    return _blend(moved, x, alpha).astype(content.dtype)


def wct(content: jax.Array, style: jax.Array, alpha: float | jax.Array = 1.0, *, sqrt: str = "eigh",
        eps: float = EPS, iterations: int = NEWTON_SCHULZ_ITERATIONS, content_mask: jax.Array | None = None,
        style_mask: jax.Array | None = None) -> jax.Array:
    """Whitening and colouring (Li et al. 2017): the content features centred, whitened with the inverse
    square root of their covariance, coloured with the square root of the style's, plus the style's mean.

    The output's mean is the style's. Its covariance is the style's up to the regulariser (`regularised`):
    whitening leaves a content direction of variance lam with lam / (lam + delta), delta = eps |C_content|_F,
    and the style's covariance gains its own delta on the diagonal. So it never exceeds the style's
    regularised covariance, and equals the style's to float tolerance where the content's variances are far
    above delta: directions the content barely uses are damped, not amplified to the style's strength
    (as WCT's eigenvalue cut-off does).

    Args:
      content: (h, w, c) features of the photo.
      style: (h', w', c) features of the painting at the same layer.
      alpha: style strength in [0, 1].
      sqrt: the matrix square roots: "eigh" (an eigendecomposition: LAPACK on a CPU) or "newton_schulz"
        (matmuls only, for accelerators).
      eps: the covariance regulariser, relative to its Frobenius norm (`EPS`).
      iterations: Newton-Schulz iterations (a fixed count: the compiled program does not branch).
      content_mask, style_mask: optional (h, w) weights: whose statistics count (see the module).

    Returns:
      (h, w, c) features in the content's dtype.

    Raises:
      StyleJaxError: an unknown `sqrt`, or features that are not (h, w, c) with the same c.
    """
    _check(content, style)
    statistics = wct_statistics(style, sqrt=sqrt, eps=eps, iterations=iterations, mask=style_mask)
    return wct_to(content, statistics, alpha, sqrt=sqrt, eps=eps, iterations=iterations, content_mask=content_mask)


def wct_statistics(style: jax.Array, *, sqrt: str = "eigh", eps: float = EPS,
                   iterations: int = NEWTON_SCHULZ_ITERATIONS, mask: jax.Array | None = None) -> StyleStatistics:
    """What WCT takes from a style's features (h, w, c): their mean and the colouring matrix, the square root
    of their regularised covariance (c, c). Computed once per painting, it leaves each photo half the
    square roots (`wct_to`)."""
    if sqrt not in SQRT_METHODS:
        raise StyleJaxError(f"`sqrt` {sqrt!r} is unknown: use one of {', '.join(SQRT_METHODS)}")
    mean, covariance = moments(style, mask)
    return StyleStatistics(mean, _roots(sqrt, iterations)(regularised(covariance, mean, eps))[0])


def wct_to(content: jax.Array, style: StyleStatistics, alpha: float | jax.Array = 1.0, *, sqrt: str = "eigh",
           eps: float = EPS, iterations: int = NEWTON_SCHULZ_ITERATIONS,
           content_mask: jax.Array | None = None) -> jax.Array:
    """`wct` with the style's statistics computed once (`wct_statistics`)."""
    if sqrt not in SQRT_METHODS:
        raise StyleJaxError(f"`sqrt` {sqrt!r} is unknown: use one of {', '.join(SQRT_METHODS)}")
    c_mean, c_cov = moments(content, content_mask)
    _, whiten = _roots(sqrt, iterations)(regularised(c_cov, c_mean, eps))
    x = content.astype(jnp.float32)
    # (x - m_c) W C with W and C symmetric: one (c, c) product, then one pass over the positions.
    moved = jnp.matmul(x - c_mean[None, None], jnp.matmul(whiten, style.spread, precision=_HIGHEST),
                       precision=_HIGHEST) + style.mean[None, None]
    return _blend(moved, x, alpha).astype(content.dtype)


def _roots(sqrt: str, iterations: int) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    return eigh_roots if sqrt == "eigh" else lambda a: newton_schulz_roots(a, iterations)


def regularised(covariance: jax.Array, mean: jax.Array, eps: float = EPS) -> jax.Array:
    """covariance (c, c) + delta * I, delta = eps * |covariance|_F + 1e-6 * (mean square feature) + 1e-15.

    The first term is scale-free, so one eps serves every layer. The second only counts for content
    (nearly) constant over the image: there the centred features are float32 rounding of the mean (1e-7 of
    it), which whitening would otherwise blow up to full strength. The last keeps all-zero features (a black
    image's) finite.

    Args:
      covariance: (c, c) from `moments`.
      mean: (c,) from `moments`.
      eps: relative to the Frobenius norm (`EPS`).

    Returns:
      (c, c) float32, symmetric positive definite.
    """
    c = covariance.shape[-1]
    mean_square = (jnp.trace(covariance) + jnp.sum(jnp.square(mean))) / c
    lift = eps * jnp.sqrt(jnp.sum(jnp.square(covariance))) + 1e-6 * mean_square + 1e-15
    return covariance + lift * jnp.eye(c, dtype=covariance.dtype)


def eigh_roots(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(a^1/2, a^-1/2) of a symmetric positive definite a (c, c) by an eigendecomposition.

    Eigenvalues are floored at float32's relative precision times the largest: below that they are
    rounding, and their inverse square roots would be noise amplified.
    """
    values, vectors = jnp.linalg.eigh(a)
    values = jnp.maximum(values, jnp.finfo(jnp.float32).eps * values[-1] + jnp.finfo(jnp.float32).tiny)
    root = jnp.sqrt(values)[None, :]
    return (jnp.matmul(vectors * root, vectors.T, precision=_HIGHEST),
            jnp.matmul(vectors / root, vectors.T, precision=_HIGHEST))


def newton_schulz_roots(a: jax.Array, iterations: int = NEWTON_SCHULZ_ITERATIONS) -> tuple[jax.Array, jax.Array]:
    """(a^1/2, a^-1/2) of a symmetric positive definite a (c, c) by the coupled Newton-Schulz iteration
    (Higham 2008, eq. 6.35): matmuls only, `iterations` of them fixed.

    a is first divided by its Frobenius norm, which puts every eigenvalue in (0, 1] where the iteration
    converges (quadratically near the end); an eigenvalue lam needs about log(|a|_F / lam) / log(2.25) + 4
    iterations. (Dividing by the trace also converges, but |a|_F <= tr(a) <= sqrt(c) |a|_F: up to
    log(sqrt(c)) / log(2.25), 4 at c = 512, more iterations for the same result.)
    """
    c = a.shape[-1]
    norm = jnp.sqrt(jnp.sum(jnp.square(a)))

    def step(_, yz):
        # The identity made here, not closed over: jax2onnx (an ONNX export) takes no traced value into a loop.
        y, z = yz
        t = 1.5 * jnp.eye(c, dtype=jnp.float32) - 0.5 * jnp.matmul(z, y, precision=_HIGHEST)
        return jnp.matmul(y, t, precision=_HIGHEST), jnp.matmul(t, z, precision=_HIGHEST)

    y, z = jax.lax.fori_loop(0, iterations, step, (a / norm, jnp.eye(c, dtype=jnp.float32)))
    return y * jnp.sqrt(norm), z / jnp.sqrt(norm)


def by_regions(transform: Callable[..., jax.Array], content: jax.Array, styles: Sequence[jax.Array],
               masks: jax.Array, alpha: float | jax.Array = 1.0, **options) -> jax.Array:
    """Each region of the content features its own style: region r's content statistics (its mask's
    positions) moved to style r's, the results blended by the masks.

    Args:
      transform: `adain` or `wct`.
      content: (h, w, c) features.
      styles: one (h_r, w_r, c) feature array per region.
      masks: (r, h, w) or (r, h, w, 1) weights at the features' resolution
        (`stylejax.objective.losses.pooled_masks` brings pixel masks there); where they sum to less than
        1 the content shows through.
      alpha: style strength in [0, 1].
      **options: passed to `transform` (e.g. sqrt="newton_schulz").

    Returns:
      (h, w, c) features in the content's dtype.
    """
    masks = masks.reshape(masks.shape[:3] + (1,)).astype(jnp.float32)
    if masks.shape[0] != len(styles) or masks.shape[1:3] != content.shape[:2]:
        raise StyleJaxError(f"`masks`: {masks.shape[0]} of {masks.shape[1]}x{masks.shape[2]} for {len(styles)} styles "
                            f"and features of {content.shape[0]}x{content.shape[1]}: give one mask per style, "
                            "at the features' size")
    x = content.astype(jnp.float32)
    out = (1.0 - jnp.sum(masks, axis=0)) * x
    for mask, style in zip(masks, styles, strict=True):
        out = out + mask * transform(x, style, alpha, content_mask=mask, **options)
    return out.astype(content.dtype)


def _check(content: jax.Array, style: jax.Array) -> None:
    if content.ndim != 3 or style.ndim != 3 or content.shape[-1] != style.shape[-1]:
        raise StyleJaxError(f"features must be (h, w, c) with the same c, got {content.shape} and {style.shape}: "
                            "use jax.vmap for a batch")


def _positions(features: jax.Array, mask: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """features (h, w, c) -> (positions (h*w, c) float32, weights (h*w, 1))."""
    x = features.reshape(-1, features.shape[-1]).astype(jnp.float32)
    weights = jnp.ones((x.shape[0], 1), jnp.float32) if mask is None else mask.reshape(-1, 1).astype(jnp.float32)
    return x, weights


def _mean_var(features: jax.Array, mask: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    x, weights = _positions(features, mask)
    total = jnp.sum(weights)
    mean = jnp.sum(weights * x, axis=0, keepdims=True) / total
    var = jnp.sum(weights * jnp.square(x - mean), axis=0, keepdims=True) / total
    return mean[None], var[None]  # (1, 1, c): broadcast over (h, w, c)


def _blend(moved: jax.Array, content: jax.Array, alpha: float | jax.Array) -> jax.Array:
    """alpha * moved + (1 - alpha) * content: alpha = 0 gives the content exactly."""
    return alpha * moved + (1.0 - alpha) * content
