"""stylize_batch on 4 simulated CPU devices: same results as stylize, no collectives, aspect kept."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax.runtime.meshes import local_mesh
from stylejax.solve.batch import BatchSolver
from stylejax.solve.sharding import default_vmap_size
from stylejax.solve.stylize import stylize_batch

SETTINGS = dict(size=48, steps=4, chunk_steps=2)


def test_four_simulated_devices():
    assert jax.local_device_count() == 4


# vmap_size: "auto" is 1 on CPU (images in sequence on a device, as `stylize` runs its one image); None runs a
# device's images in lockstep, where a line search's per-image branches must stay per image.
@pytest.mark.slow
# The backtracking line search's lockstep run against alone is in `make test-all` (heavy); its compiled program's
# check (no collectives, no per-image convolutions) stays below.
@pytest.mark.parametrize(("optimizer", "vmap_size"), [("adam", "auto"), ("lbfgs", None),
                                                      pytest.param("lbfgs-backtrack", None, marks=pytest.mark.heavy)])
def test_each_image_matches_stylize_alone(optimizer, vmap_size):
    contents = [smooth_image(32, 48, seed=i) for i in range(5)]  # bucket-aligned; 5 pads a second batch
    style = stripes(48, 48)
    batch = stylize_batch(contents, style, batch_size=8, optimizer=optimizer, vmap_size=vmap_size, **SETTINGS)
    for i in (0, 4):
        alone = stylejax.stylize(contents[i], style, optimizer=optimizer, **SETTINGS)
        np.testing.assert_allclose(batch.images[i], alone.image, atol=2e-4)
        np.testing.assert_allclose(batch.loss_histories[i], alone.loss_history, rtol=1e-4)
        assert batch.evaluations[i] == alone.evaluations


@pytest.mark.slow
@pytest.mark.parametrize(("optimizer", "vmap_size"), [("lbfgs", 1), ("lbfgs", None), ("lbfgs-backtrack", None)])
def test_no_device_waits_for_another(optimizer, vmap_size):
    config = stylejax.StyleConfig(optimizer=optimizer, **SETTINGS)
    solver = BatchSolver.create(stripes(48, 48), config, vmap_size=vmap_size)
    state, args = solver.start(jnp.stack([jnp.asarray(smooth_image(36, 48, seed=i)) for i in range(8)]))
    text = solver.programs().run.lower(state, jnp.int32(4), jnp.float32(0), args).compile().as_text()
    assert "while" in text  # the line search is really in there
    assert text.count("all-reduce(") == 0 and text.count("all-gather(") == 0
    # A batched cond predicate would batch the VGG weights into per-image grouped convolutions.
    assert "feature_group_count" not in text


def test_padding_gives_each_device_whole_lockstep_groups():
    def padded(count, vmap_size):
        return BatchSolver(None, None, None, local_mesh(), vmap_size).padded(count)

    assert [padded(n, 1) for n in (1, 4, 5, 9)] == [4, 4, 8, 12]
    assert [padded(n, 2) for n in (1, 5, 9, 13)] == [4, 8, 16, 16]
    assert padded(5, None) == padded(5, 64) == 8  # a group never outgrows a device's share
    assert default_vmap_size(local_mesh()) == 1  # CPU


@pytest.mark.slow
def test_mixed_shapes_keep_their_aspect_ratio_and_order():
    contents = [smooth_image(40, 60, seed=0), smooth_image(64, 40, seed=1), smooth_image(45, 61, seed=2)]
    result = stylize_batch(contents, stripes(48, 48), batch_size=2, optimizer="adam", **SETTINGS | {"size": 64})
    assert [im.shape for im in result.images] == [(43, 64, 3), (64, 40, 3), (47, 64, 3)]
    assert result.loss_histories.shape == (3, 4)
