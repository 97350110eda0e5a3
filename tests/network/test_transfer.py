"""The one-pass transfer as a library: `stylejax.transfer` is the same alone, under `jit` and under `vmap`;
`OnePassTransfer` takes images of any size, masks and settings; bad input is refused naming the parameter.
A folder of tiny random decoders at relu1_1 and relu2_1 (the WCT default among them: both)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from sample_images import smooth_image, stripes
from tiny_decoders import decoder_folder, tiny_decoder

import stylejax
from stylejax.errors import StyleJaxError
from stylejax.network.decoder_files import load_decoders, save_decoder

PHOTOS = jnp.asarray(np.stack([smooth_image(32, 48, 0), smooth_image(32, 48, 1)]))
PAINTING = jnp.asarray(stripes(40, 36))


@pytest.fixture(scope="module")
def folder(tmp_path_factory, weights_cache):
    return decoder_folder(tmp_path_factory.mktemp("decoders"), ("relu1_1", "relu2_1"))


def test_transfer_is_the_same_under_jit_and_vmap_as_alone(tmp_path, weights_cache):
    # A folder of its own: its decoders are first read inside `jit` (they must be arrays, not leaked tracers).
    folder = decoder_folder(tmp_path, ("relu1_1", "relu2_1"))
    alphas = jnp.array([1.0, 0.5])

    def one(photo, alpha):
        return stylejax.transfer(photo, PAINTING, alpha=alpha, decoders=folder)

    jitted = jax.jit(one)(PHOTOS[0], alphas[0])
    alone = np.stack([stylejax.transfer(p, PAINTING, alpha=float(a), decoders=folder)
                      for p, a in zip(PHOTOS, alphas, strict=True)])
    assert alone.shape == PHOTOS.shape
    assert np.abs(alone[0] - np.asarray(PHOTOS[0])).mean() > 0.05  # it did something
    assert np.abs(alone[0] - alone[1]).mean() > 0.01
    # The painting closed over is a constant of these programs: the same values all the same (to rounding: under
    # vmap the painting colours' step compiles to other code, 1.1e-5 apart with the tests' XLA flags, 0 without).
    np.testing.assert_allclose(jitted, alone[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jax.jit(jax.vmap(one))(PHOTOS, alphas), alone, rtol=1e-5, atol=3e-5)


def test_one_pass_transfer_takes_images_of_any_size_masks_and_settings(folder):
    transfer = stylejax.load_transfer(folder)
    assert transfer.levels == ("relu2_1", "relu1_1")
    photo = (np.asarray(smooth_image(60, 41, 2)) * 255).astype(np.uint8)
    out = transfer(photo, np.asarray(PAINTING), settings=stylejax.TransferSettings(size=32))
    assert out.shape == (32, 22, 3) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    # Masks of the photo's aspect ratio at another size are resized to it; each style its region.
    left = np.zeros((60, 41), np.float32)
    left[:, :20] = 1
    regions = transfer(photo, [np.asarray(PAINTING), smooth_image(48, 48, 3)], [left, 1 - left],
                       settings=stylejax.TransferSettings(size=32, style_size=40, method="adain", levels=("relu2_1",)))
    assert regions.shape == (32, 22, 3) and np.abs(regions - out).mean() > 0.01


@pytest.mark.parametrize(("arguments", "message"), [
    ({"alpha": 1.5}, "`alpha`"),
    ({"style": []}, "`style`: give at least one"),
    ({"style": [PAINTING] * 2, "style_blend": (1.0,)}, "`style_blend` has 1 weights for 2"),
    ({"style_blend": (-1.0,)}, "`style_blend` must be finite weights >= 0"),
    ({"method": "linear"}, "`method`"),
    ({"style": PAINTING[:3]}, "`style` 1 is 36x3 px: relu2_1 needs a short side of at least 4 px"),
    ({"masks": jnp.ones((2, 32, 48))}, "`masks` have shape"),
    ({"masks": jnp.ones((1, 32, 48)), "style_blend": (1.0,)}, "`style_blend` mixes"),
    ({"levels": ("relu4_1",)}, "`levels`: no decoder for relu4_1"),
])
def test_bad_input_names_the_parameter(folder, arguments, message):
    arguments = {"style": PAINTING, "decoders": folder} | arguments
    with pytest.raises(StyleJaxError, match=message):
        stylejax.transfer(PHOTOS[0], **arguments)


def test_a_folder_without_decoders_is_refused(tmp_path):
    with pytest.raises(StyleJaxError, match="not a decoders folder"):
        stylejax.load_transfer(tmp_path)


def test_adain_runs_a_level_s_adain_decoder_where_the_folder_has_one_and_wct_the_reconstruction_one(tmp_path):
    folder = decoder_folder(tmp_path / "decoders", ("relu1_1", "relu2_1"))
    levels = ("relu2_1", "relu1_1")
    before = {m: stylejax.transfer(PHOTOS[0], PAINTING, method=m, levels=levels, decoders=folder)
              for m in ("adain", "wct")}
    save_decoder(folder, tiny_decoder("relu2_1", seed=7), {"steps": 1}, objective="adain")
    transfer = stylejax.load_transfer(folder)
    cascade, weights = transfer.cascade(stylejax.TransferSettings(method="adain", levels=levels))
    adain_decoder = load_decoders(folder, objective="adain")
    for got, want in zip(jax.tree.leaves(weights.decoders),
                         jax.tree.leaves([nnx.state(adain_decoder[level], nnx.Param) for level in cascade.levels]),
                         strict=True):
        np.testing.assert_array_equal(got, want)
    after = {m: transfer.run(PHOTOS[0], [PAINTING], stylejax.TransferSettings(method=m, levels=levels))
             for m in ("adain", "wct")}
    assert np.abs(np.asarray(after["adain"]) - np.asarray(before["adain"])).mean() > 0.01
    np.testing.assert_allclose(after["wct"], before["wct"], rtol=1e-5, atol=1e-6)
