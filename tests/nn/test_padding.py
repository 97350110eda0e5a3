import jax.numpy as jnp
import numpy as np
import pytest

from stylejax.nn.padding import pad_within


@pytest.mark.parametrize("mode", ["reflect", "edge"])
@pytest.mark.parametrize("pad", [1, 4])
def test_each_image_is_padded_at_its_own_extent_as_alone(mode, pad):
    extents = [(9, 12), (5, 6), (12, 7), (6, 12)]  # smaller, both sides; the whole height; the whole width
    x = np.random.default_rng(0).uniform(size=(len(extents), 12, 12, 2)).astype(np.float32)
    out = np.asarray(pad_within(jnp.asarray(x), pad, jnp.asarray(extents), mode))
    assert out.shape == (len(extents), 12 + 2 * pad, 12 + 2 * pad, 2)
    for row, image, (h, w) in zip(out, x, extents, strict=True):
        alone = np.pad(image[:h, :w], ((pad, pad), (pad, pad), (0, 0)), mode=mode)
        np.testing.assert_array_equal(row[:h + 2 * pad, :w + 2 * pad], alone)


def test_without_extents_it_is_jnp_pad():
    x = jnp.arange(2 * 5 * 6 * 1, dtype=jnp.float32).reshape(2, 5, 6, 1)
    np.testing.assert_array_equal(pad_within(x, 2), jnp.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect"))
    with pytest.raises(ValueError, match="mode"):
        pad_within(x, 1, mode="wrap")
