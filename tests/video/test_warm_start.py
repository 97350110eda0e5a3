"""The warm start of a later frame: the previous optimizer state follows the pixels as the image does."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sample_images import smooth_image

from stylejax.objective.gatys import Temporal
from stylejax.optim.loop import RunState
from stylejax.solve import scales
from stylejax.video import flow, warm_start

H, W = 12, 16


def targets(frames: int) -> warm_start.FrameTargets:
    """A fractional flow (1.5 px right, half a pixel up) and a block of unreliable pixels (new picture)."""
    backward = jnp.broadcast_to(jnp.asarray([1.5, -0.5], jnp.float32), (frames, H, W, 2))
    reliability = np.ones((frames, H, W, 1), np.float32)
    reliability[:, :, -4:] = 0.0  # picture entering at the right edge
    reliability[:, 0, 0] = 0.25  # and a pixel in between
    previous = jnp.stack([jnp.asarray(smooth_image(H, W, seed)) for seed in range(frames)])
    warped = jax.vmap(flow.warp)(previous, backward)
    return warm_start.FrameTargets(Temporal(warped, jnp.asarray(reliability)), backward)


def adam_row(seed: int, count: int):
    """One frame's Adam state: moments shaped like the image, a step count."""
    image = jnp.asarray(smooth_image(H, W, seed))
    (adam, rest) = optax.adam(0.1).init(image)
    return (adam._replace(count=jnp.int32(count), mu=image, nu=image**2), rest)


def test_per_pixel_leaves_are_warped_as_the_image_counts_kept_unreliable_pixels_fresh():
    optimizer = optax.adam(0.1)
    frame_targets = targets(2)
    starts = [jnp.full((H, W, 3), 0.5, jnp.float32)] * 2
    rows = [adam_row(0, 7), adam_row(1, 9)]  # mu: the previous outputs themselves
    moved = warm_start.moved_state(optimizer, rows, frame_targets, starts, padded=3)
    adam = moved.opt_state[0]
    reliability = np.asarray(frame_targets.temporal.reliability)
    reliable, unreliable = reliability[..., 0] == 1, reliability[..., 0] == 0
    warped = np.asarray(frame_targets.temporal.warped)
    np.testing.assert_allclose(np.asarray(adam.mu[:2])[reliable], warped[reliable], atol=1e-6)  # as the image
    warped_nu = np.asarray(jax.vmap(flow.warp)(jnp.stack([row[0].nu for row in rows]), frame_targets.backward))
    np.testing.assert_allclose(np.asarray(adam.nu[:2])[reliable], warped_nu[reliable], atol=1e-6)
    assert np.all(np.asarray(adam.mu[:2])[unreliable] == 0) and np.all(np.asarray(adam.nu[:2])[unreliable] == 0)
    np.testing.assert_allclose(adam.mu[:2, 0, 0], 0.25 * warped[:, 0, 0], atol=1e-6)  # blended by reliability
    assert adam.count.tolist() == [7, 9, 9]  # counts carried over; the padding row repeats the last
    np.testing.assert_array_equal(adam.mu[2], adam.mu[1])
    np.testing.assert_array_equal(moved.image, jnp.stack([*starts, starts[-1]]))
    assert moved.step.tolist() == [0, 0, 0]


def test_a_state_read_back_as_its_leaves_moves_the_same():
    """A resumed job saves a frame's state as its leaves; they rebuild the optax state they came from."""
    rows = [adam_row(0, 3)]
    frame_targets, starts = targets(1), [jnp.zeros((H, W, 3), jnp.float32)]
    optimizer = optax.adam(0.1)
    as_tree = warm_start.moved_state(optimizer, rows, frame_targets, starts, padded=1)
    as_leaves = warm_start.moved_state(optimizer, [[np.asarray(x) for x in jax.tree.leaves(rows[0])]],
                                       frame_targets, starts, padded=1)
    assert jax.tree.structure(as_tree) == jax.tree.structure(as_leaves)
    for a, b in zip(jax.tree.leaves(as_tree), jax.tree.leaves(as_leaves), strict=True):
        np.testing.assert_array_equal(a, b)


def test_state_rows_are_each_frames_optax_state():
    optimizer = optax.adam(0.1)
    images = jnp.stack([jnp.asarray(smooth_image(H, W, seed)) for seed in range(3)])
    batch = jax.vmap(optimizer.init)(images)
    batch = jax.tree.map(lambda leaf: leaf + jnp.arange(3).reshape((3,) + (1,) * (leaf.ndim - 1)).astype(leaf.dtype),
                         batch)
    state = RunState(images, batch, jnp.zeros(3, jnp.int32), jnp.zeros(3, jnp.int32), images)
    rows = warm_start.state_rows(state, 2)  # the padding row is left out
    assert len(rows) == 2
    assert jax.tree.structure(rows[1]) == jax.tree.structure(optimizer.init(images[0]))
    assert int(rows[1][0].count) == 1 and np.all(rows[1][0].mu == 1.0)
    assert all(isinstance(leaf, np.ndarray | np.generic) for leaf in jax.tree.leaves(rows[0]))


@pytest.mark.parametrize("optimizer, carries", [(optax.adam(0.1), True), (optax.sgd(0.1, momentum=0.9), True),
                                                (optax.lbfgs(), False)])
def test_only_a_per_pixel_state_carries(optimizer, carries):
    assert warm_start.carries(optimizer, (H, W)) is carries
    leaves = jax.tree.leaves(jax.eval_shape(optimizer.init, jax.ShapeDtypeStruct((H, W, 3), jnp.float32)))
    assert any(scales.is_per_pixel(leaf, (H, W, 3)) for leaf in leaves)  # L-BFGS has some, and more besides
