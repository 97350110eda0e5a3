"""Optical flow between content frames, Ruder et al.'s reliability mask, and a pure-JAX warp.

Convention throughout: a flow defined on frame A towards frame B is (h, w, 2) float32 (dx, dy) in pixels with
A(x) ≈ B(x + flow(x)), the convention of OpenCV's DIS and of Ruder et al.'s `.flo` files. `warp(B, flow)` then
pulls B into A's pixel grid.

Flow estimation and the mask are NumPy/OpenCV preprocessing on content frames (computed once per pair, outside
the optimisation); `warp` is pure JAX and is used inside objectives. OpenCV is the optional `stylejax[video]`
extra, imported only when a flow is computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage

from stylejax.errors import StyleJaxError

PRESETS = ("ultrafast", "fast", "medium")

# ITU-R 601 luma, the weights of cv2.COLOR_RGB2GRAY: DIS matches 8-bit grey images only.
_LUMA = np.array([0.299, 0.587, 0.114])

# Ruder et al.'s consistencyChecker.cpp (artistic-videos @40e7447), in [0, 1] instead of [0, 255].
_DERIVATIVE = np.array([-0.5, 0.0, 0.5])  # CDerivative(3): central differences
_SMOOTH_SIGMA = 0.8  # SMOOTH_STRENGH; CSmooth(0.8, 2.0) has 2 * ceil(2.0 * 0.8) + 1 = 5 taps
_SMOOTH = np.exp(-np.arange(-2, 3) ** 2 / (2 * _SMOOTH_SIGMA**2))
_SMOOTH /= _SMOOTH.sum()
_INCONSISTENT = -1.0  # -255 there: negative so the blur spreads it outwards, then clipped to 0
_MOTION_BOUNDARY = 0.0  # MOTION_BOUNDARIE_VALUE


def _to_gray_u8(frame: np.ndarray) -> np.ndarray:
    """(h, w, 3) RGB or (h, w) grey, float in [0, 1] or uint8 -> (h, w) C-contiguous uint8."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[-1] == 3:
        frame = frame.astype(np.float64) @ (_LUMA if frame.dtype != np.uint8 else _LUMA / 255.0)
    elif frame.ndim != 2:
        raise StyleJaxError(f"a flow frame must be (h, w, 3) RGB or (h, w) grey, got shape {frame.shape}")
    elif frame.dtype == np.uint8:
        return np.ascontiguousarray(frame)
    return np.ascontiguousarray(np.round(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8))


def check_available() -> None:
    """Raises StyleJaxError if OpenCV (for the optical flow) is not installed."""
    _import_cv2()


def _import_cv2():
    try:
        import cv2
    except ImportError as error:
        raise StyleJaxError("video needs OpenCV: pip install 'stylejax[video]'") from error
    return cv2


def dis_flow(source: np.ndarray, target: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Dense optical flow from `source` to `target` with OpenCV's DIS (Kroeger et al. 2016), on the CPU.

    Args:
        source: (h, w, 3) RGB or (h, w) grey frame, float in [0, 1] (or uint8).
        target: a frame of the same (h, w).
        preset: "medium" (finest scale 1, the most accurate), "fast" or "ultrafast".

    Returns:
        (h, w, 2) float32 (dx, dy) with source(x) ≈ target(x + flow(x)). For a target whose content moved
        3 px to the right of the source, the flow is ≈ (+3, 0).

    Raises:
        StyleJaxError: OpenCV missing, unknown preset, or frames of different or unsupported shapes.
    """
    if preset not in PRESETS:
        raise StyleJaxError(f"unknown DIS preset {preset!r}: use one of {', '.join(PRESETS)}")
    cv2 = _import_cv2()
    a, b = _to_gray_u8(source), _to_gray_u8(target)
    if a.shape != b.shape:
        raise StyleJaxError(f"flow frames differ in size: {a.shape} and {b.shape}")
    code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
    return np.asarray(cv2.DISOpticalFlow.create(code).calc(a, b, None), np.float32)


def frame_flows(previous: np.ndarray, current: np.ndarray, preset: str = "medium") -> tuple[np.ndarray, np.ndarray]:
    """Both flows between consecutive content frames, as Ruder et al.'s makeOptFlow.sh computes them.

    Args:
        previous: frame i-1, (h, w, 3) RGB in [0, 1] or (h, w) grey.
        current: frame i, same (h, w).
        preset: DIS preset, see `dis_flow`.

    Returns:
        (backward, forward), each (h, w, 2) float32 (dx, dy): backward is defined on frame i with
        current(x) ≈ previous(x + backward(x)) (the flow that warps frame i-1 into frame i); forward is
        defined on frame i-1 with previous(x) ≈ current(x + forward(x)).
    """
    return dis_flow(current, previous, preset), dis_flow(previous, current, preset)


def _check_flow(flow: np.ndarray, name: str) -> np.ndarray:
    flow = np.asarray(flow, np.float64)
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise StyleJaxError(f"{name} flow must be (h, w, 2) (dx, dy), got shape {flow.shape}")
    if not np.isfinite(flow).all():
        raise StyleJaxError(f"{name} flow has non-finite values")
    return flow


def reliability(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s per-pixel weight c^(i-1,i) for frame i's temporal loss, in [0, 1].

    A vectorised port of artistic-videos' consistencyChecker.cpp, called as `consistencyChecker backward
    forward`: a pixel x of frame i is 0 if x + backward(x) is out of frame (no counterpart in frame i-1), -1
    if the round trip through the forward flow misses x (disocclusion, or a wrong flow), 0 on a motion
    boundary of the backward flow, and 1 otherwise; then a 5-tap Gaussian blur (sigma 0.8, mirrored edges)
    and a clip to [0, 1]. The -1 lets the blur widen the masked regions instead of eroding them.

    Args:
        backward: (h, w, 2) (dx, dy) flow on frame i towards frame i-1 (`frame_flows(...)[0]`).
        forward: (h, w, 2) (dx, dy) flow on frame i-1 towards frame i (`frame_flows(...)[1]`).

    Returns:
        (h, w) float32 weights in [0, 1] on frame i's pixels.

    Raises:
        StyleJaxError: flows of the wrong shape, of different sizes, or with non-finite values.
    """
    flow1, flow2 = _check_flow(backward, "backward"), _check_flow(forward, "forward")
    if flow1.shape != flow2.shape:
        raise StyleJaxError(f"backward and forward flows differ in size: {flow1.shape} and {flow2.shape}")
    h, w, _ = flow1.shape
    ay, ax = np.mgrid[0:h, 0:w].astype(np.float64)
    bx, by = ax + flow1[..., 0], ay + flow1[..., 1]
    x1, y1 = np.floor(bx), np.floor(by)
    # The C++ test is on the bilinear neighbours, so it also rejects b in the last row and column.
    inside = (x1 >= 0) & (x1 + 1 < w) & (y1 >= 0) & (y1 + 1 < h)
    # Clamped indices are only used where `inside`, where they are not clamped.
    x1i = np.clip(x1, 0, max(w - 2, 0)).astype(np.intp)
    y1i = np.clip(y1, 0, max(h - 2, 0)).astype(np.intp)
    x2i, y2i = np.minimum(x1i + 1, w - 1), np.minimum(y1i + 1, h - 1)
    alpha_x, alpha_y = bx - x1, by - y1

    def sample(f: np.ndarray) -> np.ndarray:  # flow2 component at b, bilinear, as the C++ does
        top = (1 - alpha_x) * f[y1i, x1i] + alpha_x * f[y1i, x2i]
        bottom = (1 - alpha_x) * f[y2i, x1i] + alpha_x * f[y2i, x2i]
        return (1 - alpha_y) * top + alpha_y * bottom

    u, v = sample(flow2[..., 0]), sample(flow2[..., 1])
    flow1_sq = flow1[..., 0] ** 2 + flow1[..., 1] ** 2
    round_trip_sq = (bx + u - ax) ** 2 + (by + v - ay) ** 2
    inconsistent = round_trip_sq >= 0.01 * (flow1_sq + u * u + v * v) + 0.5
    # Brox's CFilter correlates with mirrored edges (x[-1] = x[0]): scipy's "reflect".
    motion_edge = sum(ndimage.correlate1d(flow1[..., k], _DERIVATIVE, axis=axis, mode="reflect") ** 2
                      for k in (0, 1) for axis in (0, 1))
    boundary = motion_edge > 0.01 * flow1_sq + 0.002
    seed = np.where(~inside, 0.0,
                    np.where(inconsistent, _INCONSISTENT, np.where(boundary, _MOTION_BOUNDARY, 1.0)))
    blurred = ndimage.correlate1d(ndimage.correlate1d(seed, _SMOOTH, axis=1, mode="reflect"),
                                  _SMOOTH, axis=0, mode="reflect")
    return np.clip(blurred, 0.0, 1.0).astype(np.float32)


@jax.jit
def warp(image: jax.Array, flow: jax.Array) -> jax.Array:
    """Backward warp: out(x) = image(x + flow(x)), bilinear. Pure, jit-able, vmap-able, differentiable.

    With the backward flow of frame i (`frame_flows`), this moves frame i-1's output into frame i (Ruder's
    "prevWarped" initialisation and the temporal-loss target). Samples outside the frame take the nearest edge
    pixel: `reliability` gives those pixels weight 0, and an edge colour is a better start than grey.

    Args:
        image: (h, w, c) image to sample from.
        flow: (h, w, 2) (dx, dy) in pixels, defined on the output grid.

    Returns:
        (h, w, c) warped image, image's dtype.
    """
    h, w, _ = image.shape
    ys, xs = jnp.meshgrid(jnp.arange(h, dtype=flow.dtype), jnp.arange(w, dtype=flow.dtype), indexing="ij")
    # Clamping the coordinate first equals clamping each bilinear neighbour (map_coordinates' "nearest").
    x = jnp.clip(xs + flow[..., 0], 0, w - 1)
    y = jnp.clip(ys + flow[..., 1], 0, h - 1)
    x0, y0 = jnp.floor(x), jnp.floor(y)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    x0i, y0i = x0.astype(jnp.int32), y0.astype(jnp.int32)
    x1i, y1i = jnp.minimum(x0i + 1, w - 1), jnp.minimum(y0i + 1, h - 1)
    # One gather per neighbour fetches all channels at once (map_coordinates would gather per channel).
    top = (1 - wx) * image[y0i, x0i] + wx * image[y0i, x1i]
    bottom = (1 - wx) * image[y1i, x0i] + wx * image[y1i, x1i]
    return ((1 - wy) * top + wy * bottom).astype(image.dtype)



def temporal_error(frames: Sequence[np.ndarray], content_frames: Sequence[np.ndarray],
                   preset: str = "medium") -> float:
    """Warping error of a stylised sequence: the mean over t >= 1 of `warping_error` between frames t-1 and t.

    This is the figure `stylejax video`'s summary line prints (the mean of its frames' `temporal_error`)
    and benchmarks/video.py reports: both come from `warping_error`.

    Args:
        frames: T stylised frames, each (h, w, c) float in [0, 1].
        content_frames: the T content frames they were made from, (h, w, 3) RGB or (h, w) grey, same (h, w).
        preset: DIS preset, see `dis_flow`.

    Returns:
        The error (0.0 for a single frame), in squared [0, 1] pixel units.

    Raises:
        StyleJaxError: different frame counts, no frames, or frames of different sizes.
    """
    if len(frames) != len(content_frames):
        raise StyleJaxError(f"{len(frames)} stylised frames but {len(content_frames)} content frames")
    if not frames:
        raise StyleJaxError("temporal_error needs at least one frame")
    outs = [np.asarray(f, np.float32) for f in frames]
    contents = [np.asarray(f) for f in content_frames]
    size = outs[0].shape
    for t, (out, content) in enumerate(zip(outs, contents, strict=True)):
        if out.ndim != 3 or out.shape != size or content.shape[:2] != size[:2]:
            raise StyleJaxError(f"frame {t}: stylised {out.shape} and content {content.shape} must all be "
                                f"(h, w, c) of size {size}")
    errors = [warping_error(outs[t - 1], outs[t], contents[t - 1], contents[t], preset) for t in range(1, len(outs))]
    return float(np.mean(errors)) if errors else 0.0


def warping_error(previous: np.ndarray, current: np.ndarray, previous_content: np.ndarray,
                  content: np.ndarray, preset: str = "medium") -> float:
    """How far stylised frame t is from frame t-1 carried by the content's motion, over reliable pixels only.

    sum(c * (current - warp(previous, backward))^2) / (channels * sum(c)): backward and c = `reliability`
    come from the content frames t-1 and t (`frame_flows`), at the stylised frames' size; 0 with no
    reliable pixel. Nothing of the optimisation enters (not its working shape, not its warped target),
    so the figure describes the frames a user gets, however they were made.

    Args:
        previous, current: stylised frames t-1 and t, (h, w, c) float in [0, 1].
        previous_content, content: content frames t-1 and t, (h, w, 3) RGB or (h, w) grey, same (h, w).
        preset: DIS preset, see `dis_flow`.

    Returns:
        The error in squared [0, 1] pixel units.
    """
    backward, forward = frame_flows(previous_content, content, preset)
    warped = np.asarray(warp(jnp.asarray(previous, jnp.float32), jnp.asarray(backward)), np.float64)
    weight = reliability(backward, forward).astype(np.float64)
    total = weight.sum()
    squared = np.square(np.asarray(current, np.float64) - warped).sum(axis=-1)
    return float((weight * squared).sum() / (current.shape[-1] * total)) if total > 0 else 0.0
