import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage import data, transform

from stylejax.errors import StyleJaxError
from stylejax.video import flow

N = 128  # frame size; windows of a 256 px astronaut, so shifted frames show real content, not wrap-around
Y0, X0 = 40, 64


@pytest.fixture(scope="module")
def big() -> np.ndarray:
    return transform.resize(data.astronaut(), (256, 256), anti_aliasing=True).astype(np.float32)


def window(big: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
    """The N x N view whose top-left corner is (X0 + dx, Y0 + dy): content appears moved by (-dx, -dy)."""
    return big[Y0 + dy:Y0 + dy + N, X0 + dx:X0 + dx + N]


@pytest.mark.parametrize("preset", flow.PRESETS)
@pytest.mark.parametrize("shift", [(3, 0), (0, 3)])
def test_dis_recovers_a_known_shift_with_the_documented_sign(big, preset, shift):
    a = window(big)
    b = window(big, -shift[0], -shift[1])  # b(x) = a(x - shift): a's content moved by +shift
    np.testing.assert_array_equal(b[shift[1]:, shift[0]:], a[:N - shift[1], :N - shift[0]])
    f = flow.dis_flow(a, b, preset)
    assert f.shape == (N, N, 2) and f.dtype == np.float32
    # source(x) ≈ target(x + flow(x)) and a(x) = b(x + shift), so the flow is +shift.
    np.testing.assert_allclose(np.median(f[8:-8, 8:-8].reshape(-1, 2), axis=0), shift, atol=0.5)


def test_dis_accepts_grey_and_uint8_and_rejects_bad_input(big):
    a, b = window(big), window(big, -3)
    grey = flow.dis_flow(a @ np.float32([0.299, 0.587, 0.114]), b @ np.float32([0.299, 0.587, 0.114]))
    as_u8 = flow.dis_flow(np.round(a * 255).astype(np.uint8), np.round(b * 255).astype(np.uint8))
    np.testing.assert_allclose(np.median(grey[8:-8, 8:-8, 0]), 3, atol=0.5)
    np.testing.assert_allclose(np.median(as_u8[8:-8, 8:-8, 0]), 3, atol=0.5)
    with pytest.raises(StyleJaxError, match="preset"):
        flow.dis_flow(a, b, "slow")
    with pytest.raises(StyleJaxError, match="differ in size"):
        flow.dis_flow(a, b[:-1])
    with pytest.raises(StyleJaxError, match="shape"):
        flow.dis_flow(a[..., :2], b[..., :2])


def test_missing_opencv_says_how_to_install_it(big, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # makes `import cv2` raise ImportError
    with pytest.raises(StyleJaxError, match=r"stylejax\[video\]"):
        flow.dis_flow(window(big), window(big))


def test_frame_flows_directions(big):
    previous, current = window(big), window(big, 3)  # camera pans right: content moves left
    backward, forward = flow.frame_flows(previous, current)
    # current(x) = previous(x + 3) and previous(x) = current(x - 3).
    np.testing.assert_allclose(np.median(backward[8:-8, 8:-8].reshape(-1, 2), axis=0), (3, 0), atol=0.5)
    np.testing.assert_allclose(np.median(forward[8:-8, 8:-8].reshape(-1, 2), axis=0), (-3, 0), atol=0.5)


def test_mask_is_zero_where_a_pan_disoccludes(big):
    previous, current = window(big), window(big, 3)
    c = flow.reliability(*flow.frame_flows(previous, current))
    assert c.shape == (N, N) and c.dtype == np.float32 and c.min() >= 0 and c.max() <= 1
    assert c[:, -3:].mean() < 0.1  # new content at the right edge: nothing in frame i-1 to compare with
    assert c[8:-8, 8:-8].mean() > 0.9


def _reference_reliability(flow1: np.ndarray, flow2: np.ndarray) -> np.ndarray:
    """Loop-by-loop transliteration of consistencyChecker.cpp + CFilter.h (mirrored edges), in [0, 1]."""
    h, w, _ = flow1.shape

    def correlate(a, taps, axis):  # NFilter::filter: out(x) = sum_i f[i] a(x + i), a(-1-k) = a(k)
        out = np.zeros_like(a)
        r = len(taps) // 2
        for y in range(h):
            for x in range(w):
                for i in range(-r, r + 1):
                    n = (x if axis == 1 else y) + i
                    size = w if axis == 1 else h
                    n = -1 - n if n < 0 else (2 * size - 1 - n if n >= size else n)
                    out[y, x] += taps[i + r] * (a[y, n] if axis == 1 else a[n, x])
        return out

    d = [-0.5, 0.0, 0.5]
    edge = sum(correlate(flow1[..., k], d, axis) ** 2 for k in (0, 1) for axis in (0, 1))
    reliable = np.ones((h, w))
    for ay in range(h):
        for ax in range(w):
            bx, by = ax + flow1[ay, ax, 0], ay + flow1[ay, ax, 1]
            x1, y1 = math.floor(bx), math.floor(by)
            x2, y2 = x1 + 1, y1 + 1
            if x1 < 0 or x2 >= w or y1 < 0 or y2 >= h:
                reliable[ay, ax] = 0
                continue
            alx, aly = bx - x1, by - y1
            uv = [(1 - aly) * ((1 - alx) * flow2[y1, x1, k] + alx * flow2[y1, x2, k])
                  + aly * ((1 - alx) * flow2[y2, x1, k] + alx * flow2[y2, x2, k]) for k in (0, 1)]
            u, v = uv
            cx, cy = bx + u, by + v
            u2, v2 = flow1[ay, ax]
            if (cx - ax) ** 2 + (cy - ay) ** 2 >= 0.01 * (u2 * u2 + v2 * v2 + u * u + v * v) + 0.5:
                reliable[ay, ax] = -1
                continue
            if edge[ay, ax] > 0.01 * (u2 * u2 + v2 * v2) + 0.002:
                reliable[ay, ax] = 0
    taps = [math.exp(-i * i / (2 * 0.8**2)) for i in range(-2, 3)]
    taps = [t / sum(taps) for t in taps]
    return np.clip(correlate(correlate(reliable, taps, 1), taps, 0), 0, 1), reliable


def test_reliability_matches_a_transliteration_of_ruders_checker():
    rng = np.random.default_rng(0)
    h, w = 13, 15
    ys, xs = np.mgrid[0:h, 0:w]
    # Smooth flow with a motion boundary, a consistent forward flow except in a patch, and some noise.
    backward = np.stack([1.5 * np.sin(xs / 4.0) + 0.3, np.where(xs < 7, 0.8, -0.6) + 0.1 * np.cos(ys)], -1)
    forward = -backward + rng.normal(0, 0.05, backward.shape)
    forward[3:8, 4:9] += 2.0
    want, seed = _reference_reliability(backward, forward)
    assert {0.0, -1.0, 1.0} <= set(np.unique(seed))  # every branch of the checker is exercised
    assert ((seed == 0) & (xs > 0) & (xs < w - 3) & (ys > 0) & (ys < h - 2)).any()  # a motion boundary
    np.testing.assert_allclose(flow.reliability(backward, forward), want, atol=1e-6)


def test_inconsistent_flow_is_masked():
    h = w = 32
    backward = np.zeros((h, w, 2), np.float32)
    backward[..., 0] = 2  # frame i(x) = frame i-1(x + 2)
    forward = -backward.copy()
    forward[10:20, 10:20] = (3, 0)  # disagrees in a square of frame i-1
    c = flow.reliability(backward, forward)
    # Pixels of frame i that land in that square (columns 8..17) are -1 before the blur, so stay 0 after.
    assert c[10:20, 8:18].max() == 0.0
    # The -1 pulls the blur down outside too: 1 px out is 0.5, where a 0 seed would leave 1 - 0.23 - 0.02.
    assert c[9, 9:17].max() < 0.55 and c[20, 9:17].max() < 0.55
    np.testing.assert_allclose(c[2:8, 2:24], 1.0)
    np.testing.assert_allclose(c[23:29, 2:24], 1.0)
    assert c[:, -2:].max() < 0.05  # x + 2 >= w - 1: out of frame (Ruder also needs the right neighbour)


def test_motion_boundary_is_masked():
    h = w = 32
    backward = np.zeros((h, w, 2), np.float32)
    backward[:, :16, 1], backward[:, 16:, 1] = 1.0, -1.0  # left half moves down, right half up
    forward = -backward  # consistent: motion is along the boundary, so nothing is occluded
    c = flow.reliability(backward, forward)
    rows = slice(4, 28)
    # Columns 15, 16 are 0 before the blur; a 0 is not spread, so the blur lifts them to 1 - 0.5 - 0.23.
    assert c[rows, 15:17].max() < 0.3
    np.testing.assert_allclose(c[rows, :12], 1.0)
    np.testing.assert_allclose(c[rows, 20:28], 1.0)  # the last 3 columns are out of frame / blurred
    # Without the boundary (both halves equal), the same columns are fully reliable.
    same = np.zeros_like(backward)
    same[..., 1] = 1.0
    np.testing.assert_allclose(flow.reliability(same, -same)[rows, 15:17], 1.0)


def test_still_frames_are_reliable_except_ruders_last_row_and_column():
    still = np.zeros((16, 16, 2), np.float32)
    c = flow.reliability(still, still)
    np.testing.assert_allclose(c[:-3, :-3], 1.0)
    # As in the C++: b = a has no bilinear right/lower neighbour on the last column/row, so it is "out"
    # (0 before the blur; the mirrored blur lifts a one-pixel 0 band to 1 - 0.50 - 0.23).
    assert c[-1].max() < 0.28 and c[:, -1].max() < 0.28


def test_reliability_rejects_bad_flows():
    f = np.zeros((8, 8, 2), np.float32)
    with pytest.raises(StyleJaxError, match="differ in size"):
        flow.reliability(f, f[:-1])
    with pytest.raises(StyleJaxError, match=r"\(h, w, 2\)"):
        flow.reliability(f[..., :1], f[..., :1])
    bad = f.copy()
    bad[2, 3, 0] = np.nan
    with pytest.raises(StyleJaxError, match="non-finite"):
        flow.reliability(bad, f)


def test_warp_integer_shift_is_a_roll_and_fractional_shift_is_linear():
    rng = np.random.default_rng(0)
    image = rng.random((16, 20, 3), np.float32)
    shift = np.zeros((16, 20, 2), np.float32)
    shift[..., 0], shift[..., 1] = 2, -1  # out(y, x) = image(y - 1, x + 2)
    out = np.asarray(flow.warp(jnp.asarray(image), jnp.asarray(shift)))
    np.testing.assert_array_equal(out[1:, :-2], np.roll(image, (1, -2), axis=(0, 1))[1:, :-2])
    np.testing.assert_array_equal(out[0, :-2], image[0, 2:])  # above the frame: nearest edge row
    np.testing.assert_array_equal(out[1:, -2:], image[:-1, -1:].repeat(2, axis=1))  # right edge column

    frac = np.zeros_like(shift)
    frac[..., 0], frac[..., 1] = 0.25, 0.5
    out = np.asarray(flow.warp(jnp.asarray(image), jnp.asarray(frac)))
    want = (0.5 * (0.75 * image[:-1, :-1] + 0.25 * image[:-1, 1:])
            + 0.5 * (0.75 * image[1:, :-1] + 0.25 * image[1:, 1:]))
    np.testing.assert_allclose(out[:-1, :-1], want, atol=1e-6)


def test_warp_jits_vmaps_and_differentiates():
    rng = np.random.default_rng(1)
    images = jnp.asarray(rng.random((2, 12, 10, 3), np.float32))
    flows = jnp.asarray(rng.uniform(-3, 3, (2, 12, 10, 2)).astype(np.float32))
    batched = jax.jit(jax.vmap(flow.warp))(images, flows)
    for i in range(2):
        np.testing.assert_allclose(batched[i], flow.warp(images[i], flows[i]), atol=1e-6)

    grad_image = jax.grad(lambda im: flow.warp(im, flows[0]).sum())(images[0])
    assert np.isfinite(grad_image).all()
    # Bilinear weights sum to 1: every output pixel hands exactly one unit of gradient back to the input.
    np.testing.assert_allclose(grad_image.sum(), 12 * 10 * 3, rtol=1e-5)
    grad_flow = jax.grad(lambda f: flow.warp(images[0], f).sum())(flows[0] * 0.3)
    assert np.isfinite(grad_flow).all() and np.abs(grad_flow).sum() > 0


def test_temporal_error_is_zero_for_warped_outputs_and_grows_with_flicker(big):
    contents = [window(big, 3 * i) for i in range(3)]  # a pan, 3 px per frame
    assert flow.temporal_error(contents[:1], contents[:1]) == 0.0
    # Outputs that are exactly the previous output carried by the content's backward flow.
    outs = [contents[0]]
    for t in (1, 2):
        backward, _ = flow.frame_flows(contents[t - 1], contents[t])
        outs.append(np.asarray(flow.warp(jnp.asarray(outs[-1]), jnp.asarray(backward))))
    assert flow.temporal_error(outs, contents) < 1e-10
    stable = flow.temporal_error(contents, contents)  # output = content: only flow error remains
    rng = np.random.default_rng(0)
    flicker = [np.clip(f + rng.normal(0, 0.1, f.shape), 0, 1).astype(np.float32) for f in contents]
    noisy = flow.temporal_error(flicker, contents)
    assert stable < 1e-4
    assert noisy > 0.01 and noisy > 100 * stable  # ≈ 2 * 0.1² from two independent noises


def test_temporal_error_rejects_mismatched_sequences(big):
    frames = [window(big), window(big, 3)]
    with pytest.raises(StyleJaxError, match="2 stylised frames but 1"):
        flow.temporal_error(frames, frames[:1])
    with pytest.raises(StyleJaxError, match="frame 1"):
        flow.temporal_error([frames[0], frames[1][:-4]], frames)
    with pytest.raises(StyleJaxError, match="frame 0"):
        flow.temporal_error(frames, [f[:-4] for f in frames])
