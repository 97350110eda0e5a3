"""Tiles: grids that cover, blending that is seamless, and a tiled run whose borders do not show."""

import numpy as np
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax.io import images
from stylejax.objective import targets
from stylejax.solve import tiles


@pytest.mark.parametrize("length, tile", [(512, 128), (300, 128), (129, 128), (128, 128), (90, 128)])
def test_tiles_cover_the_axis_with_overlap_in_both_passes(length, tile):
    overlap = 32
    for shift in (0.0, 0.5):
        starts = tiles.starts(length, tile, overlap, shift)
        covered = np.zeros(length, int)
        for s in starts:
            covered[s:s + min(tile, length)] += 1
        assert covered.min() >= 1 and starts[0] == 0 and starts[-1] + min(tile, length) == length
        inner_seams = [a + tile - b for a, b in zip(starts, starts[1:], strict=False)]
        assert all(seam >= overlap for seam in inner_seams)  # neighbours overlap enough to blend
    if length >= 2 * tile:  # room to move the inner tiles
        assert tiles.starts(length, tile, overlap, 0.5) != tiles.starts(length, tile, overlap, 0.0)


def test_blending_crops_of_one_image_gives_it_back():
    image = smooth_image(200, 300)
    corners = tiles.grid((200, 300), 128, shift=0.5)
    pieces = [image[y:y + 128, x:x + 128] for y, x in corners]
    np.testing.assert_allclose(tiles.blend(pieces, corners, (200, 300), 128), image, atol=1e-6)


def test_the_seam_metric_sees_a_seam():
    image = np.tile(smooth_image(256, 256)[:, :1], (1, 256, 1))  # smooth across x
    assert tiles.seam_ratio(image, 128) == pytest.approx(1.0, abs=0.2)
    seamed = image.copy()
    for s in tiles.starts(256, 128, 32):  # a step at every tile edge of the first grid
        seamed[:, s:] += 0.05
    assert tiles.seam_ratio(np.clip(seamed, 0, 1), 128) > 1.2


def test_the_seam_metric_ignores_the_pooling_pattern():
    """VGG's 2x2 poolings leave every other line sharper; tile edges on one parity are no seam."""
    edges = {e - 1 for shift in (0.0, 0.5) for s in tiles.starts(256, 128, 32, shift) for e in (s, s + 128)}
    assert {e % 2 for e in edges if 0 < e < 255} == {1}  # this grid's borders all fall on odd lines
    steps = np.where(np.arange(255) % 2 == 1, 0.004, 0.002)  # odd lines change twice as fast
    ramp = np.concatenate([[0.0], np.cumsum(steps)]).astype(np.float32)
    image = np.broadcast_to(ramp[None, :, None], (256, 256, 3))
    assert tiles.seam_ratio(image, 128) == pytest.approx(1.0, abs=0.02)


@pytest.mark.slow
def test_style_grams_by_crops_equal_the_whole_image_grams(vgg16):
    from flax import nnx

    from stylejax.objective import crops, losses

    image = smooth_image(200, 300, seed=2)
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    graphdef, state = nnx.split(vgg16)
    by_crops = crops.grams_by_crops(graphdef, state, image, layers, tile=96)
    whole = vgg16.features(image[None], list(layers))
    for name in layers:
        expected = np.asarray(losses.gram(whole[name][0]))
        np.testing.assert_allclose(by_crops[name], expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max(),
                                   err_msg=name)


def test_content_targets_see_real_context_at_tile_borders():
    from stylejax.solve.batch import BatchSolver

    content = smooth_image(192, 192)
    solver = BatchSolver.create(stripes(48, 48), stylejax.StyleConfig(size=192, steps=1))
    corners = [(32, 32)]
    with_margin = tiles.content_targets(solver, content, corners, (128, 128))["relu4_2"][0, 0]
    crop = content[32:160, 32:160]
    alone = solver.objective.content_layers and stylejax.load_vgg().features(crop[None], ["relu4_2"])["relu4_2"][0]
    assert with_margin.shape == alone.shape
    centre = (slice(4, -4), slice(4, -4))
    border = np.abs(np.asarray(with_margin - alone))
    assert border[centre].mean() < border.mean()  # they differ most where the crop alone sees padding


@pytest.mark.slow
@pytest.mark.heavy
def test_a_tiled_run_has_no_seams_and_is_stylized():
    content, style = smooth_image(192, 144, seed=4), stripes(64, 64)
    config = dict(size=192, min_size=96, steps=(4, 2), optimizer="adam", chunk_steps=2)
    result = stylejax.stylize(content, style, **config, tile=128)
    assert result.tile == 128 and result.image.shape == (192, 144, 3)
    assert tiles.seam_ratio(result.image, 128) <= 1.2
    vgg = stylejax.load_vgg()
    objective, args, start = targets.prepare(vgg, images.resize(content, (192, 144)), [style],
                                            stylejax.StyleConfig(size=192))
    whole = stylejax.stylize(content, style, **config)

    def style_loss(image):  # of the whole image, though each tile saw only its own part
        return float(targets.terms_of(objective, image, args)["style"])

    assert style_loss(result.image) < min(0.9 * style_loss(start), 1.15 * style_loss(whole.image))
