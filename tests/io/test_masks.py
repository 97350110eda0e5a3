"""Region masks: each style on its own part of the image (guided Gram matrices, Gatys et al. 2017)."""

import numpy as np
import pytest
from flax import nnx
from PIL import Image
from sample_images import smooth_image, stripes

import stylejax
from stylejax.cli.app import main
from stylejax.io import masks
from stylejax.nn.vgg import extract_features
from stylejax.objective import losses, targets

SIZE = 64


def _halves(h: int, w: int) -> list[np.ndarray]:
    left = np.zeros((h, w), np.float32)
    left[:, : w // 2] = 1
    return [left, 1 - left]


def _style_distance(vgg, image: np.ndarray, style: np.ndarray) -> float:
    """The unweighted-by-region Gram distance of an image to a style: its style term at one scale."""
    config = stylejax.StyleConfig(size=max(image.shape[:2]), steps=1)
    objective, args, pixels = stylejax.prepare(vgg, image, [style], config)
    return float(targets.terms_of(objective, pixels, args)["style"])


def _save_gray(path, mask: np.ndarray):
    Image.fromarray(np.asarray(mask * 255, np.uint8), "L").save(path)
    return str(path)


def test_one_mask_over_everything_is_the_unmasked_style_loss(vgg16):
    content, style = smooth_image(48, 40), stripes(40, 40)
    config = stylejax.StyleConfig(size=48, steps=1)
    objective, args, pixels = stylejax.prepare(vgg16, content, [style], config)
    plain = targets.terms_of(objective, pixels, args)
    objective, args, pixels = stylejax.prepare(vgg16, content, [style], config, masks=np.ones((1, 48, 40)))
    masked = targets.terms_of(objective, pixels, args)
    np.testing.assert_allclose(float(masked["style"]), float(plain["style"]), rtol=1e-5)
    assert float(masked["style"]) > 0


def test_pooled_masks_match_each_layers_feature_grid_and_area(vgg16):
    h, w = 45, 37  # odd sides: VGG's poolings floor
    image = smooth_image(h, w)[None]
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    features = extract_features(*nnx.split(vgg16), image, layers)
    left = np.zeros((1, h, w, 1), np.float32)
    left[:, :, :16] = 1  # 16 px: whole pooling cells down to relu5_1
    pooled = losses.pooled_masks(left, layers)
    for name in layers:
        assert pooled[name].shape[:-1] == features[name].shape[:-1]
        stride = 2 ** (int(name[4]) - 1)
        np.testing.assert_allclose(np.asarray(pooled[name])[0, :, : 16 // stride], 1.0)
        np.testing.assert_allclose(np.asarray(pooled[name])[0, :, 16 // stride:], 0.0)


def test_guided_gram_of_a_half_is_that_halfs_gram():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1, 8, 10, 4)).astype(np.float32)
    mask = np.zeros((1, 8, 10, 1), np.float32)
    mask[0, :, :4] = 1
    guided = np.asarray(losses.guided_gram(features, mask))[0, 0]
    np.testing.assert_allclose(guided, np.asarray(losses.gram(features[:, :, :4]))[0], rtol=1e-5)


@pytest.mark.slow
def test_two_regions_each_take_their_own_style(vgg16):
    content = smooth_image(SIZE, SIZE, seed=2)
    style_a, style_b = stripes(SIZE, SIZE), smooth_image(SIZE, SIZE, seed=9) ** 3
    result = stylejax.stylize(content, [style_a, style_b], size=SIZE, steps=60, masks=_halves(SIZE, SIZE))
    left, right = result.image[:, : SIZE // 2], result.image[:, SIZE // 2:]
    assert _style_distance(vgg16, left, style_a) < _style_distance(vgg16, left, style_b)
    assert _style_distance(vgg16, right, style_b) < _style_distance(vgg16, right, style_a)


@pytest.mark.slow
def test_a_style_mask_takes_the_style_from_that_part_of_the_painting(vgg16):
    painting = np.concatenate([stripes(48, 32), smooth_image(48, 32, seed=4)], axis=1)  # stripes | smooth
    config = stylejax.StyleConfig(size=64, steps=1)
    _, whole = targets.prepare_shared(vgg16, [painting], config, style_masks=[None])
    _, stripes_part = targets.prepare_shared(vgg16, [painting], config, style_masks=[_halves(48, 64)[0]])
    # The half alone, at the scale it has inside the painting (a style is sized by its longest side).
    _, stripes_only = targets.prepare_shared(vgg16, [stripes(48, 32)], config.replace(size=48), style_masks=[None])
    for name in ("relu1_1", "relu3_1"):
        to_part = np.abs(stripes_part.targets.style[name] - stripes_only.targets.style[name]).mean()
        to_whole = np.abs(whole.targets.style[name] - stripes_only.targets.style[name]).mean()
        assert to_part < 0.5 * to_whole


@pytest.mark.slow
def test_regions_in_a_batch_match_the_single_image_loss():
    content = smooth_image(48, 48, seed=3)
    styles = [stripes(48, 48), smooth_image(48, 48, seed=9) ** 3]
    config = stylejax.StyleConfig(size=48, steps=5, optimizer="adam")
    single = stylejax.stylize(content, styles, config, masks=_halves(48, 48))
    batch = stylejax.stylize_batch([content, content[:, ::-1]], styles, config,
                                   masks=[_halves(48, 48), _halves(48, 48)])
    np.testing.assert_allclose(batch.loss_histories[0], single.loss_history, rtol=2e-4)
    assert not np.allclose(batch.images[0], batch.images[1])


@pytest.mark.slow
def test_video_frames_take_their_regions_from_a_folder_of_mask_frames(tmp_path, vgg16):
    frames = [smooth_image(48, 48, seed=s) for s in (1, 1, 1)]
    folder = tmp_path / "left"
    folder.mkdir()
    halves = _halves(48, 48)
    for i in range(2):  # frame 3 reuses the last mask
        _save_gray(folder / f"m{i + 1}.png", halves[0])
    right = _save_gray(tmp_path / "right.png", halves[1])
    styles = [stripes(48, 48), smooth_image(48, 48, seed=9) ** 3]
    out = stylejax.stylize_video(frames, styles, stylejax.StyleConfig(size=48, steps=40),
                                 stylejax.VideoSettings(frame_steps=20), masks=[str(folder), right])
    last = out[-1].image
    assert _style_distance(vgg16, last[:, :24], styles[0]) < _style_distance(vgg16, last[:, :24], styles[1])
    assert _style_distance(vgg16, last[:, 24:], styles[1]) < _style_distance(vgg16, last[:, 24:], styles[0])


@pytest.mark.slow
def test_batch_cli_finds_each_inputs_masks_by_name(tmp_path):
    inputs, masks_dir, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    for folder in (inputs / "sub", masks_dir / "a" / "sub", masks_dir / "b" / "sub"):
        folder.mkdir(parents=True)
    for name in ("one", "sub/two"):
        stylejax.save_image(smooth_image(40, 48), inputs / f"{name}.jpg")
        _save_gray(masks_dir / "a" / f"{name}.png", _halves(40, 48)[0])
        _save_gray(masks_dir / "b" / f"{name}.png", _halves(40, 48)[1])
    styles = [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    stylejax.save_image(stripes(48, 48), styles[0])
    stylejax.save_image(smooth_image(48, 48, seed=9), styles[1])
    common = [str(inputs), "--style", *styles, "--size", "48", "--steps", "3", "--masks-dir"]
    assert main(["batch", *common, str(masks_dir), "-o", str(out)]) == 0
    assert (out / "one.jpg").exists() and (out / "sub" / "two.jpg").exists()

    (masks_dir / "b" / "sub" / "two.png").unlink()
    assert main(["batch", *common, str(masks_dir), "-o", str(tmp_path / "out2")]) == 2
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize("case, message", [
    ("count", "1 mask(s) for 2 style image(s)"),
    ("aspect", "aspect ratio"),
    ("black", "all black"),
    ("not-an-image", "not an image"),
])
def test_bad_masks_are_one_line_and_exit_2_with_nothing_written(tmp_path, capsys, case, message):
    content = tmp_path / "c.png"
    stylejax.save_image(smooth_image(40, 48), content)
    styles = [tmp_path / "a.png", tmp_path / "b.png"]
    for s in styles:
        stylejax.save_image(stripes(40, 40), s)
    good = _save_gray(tmp_path / "good.png", _halves(40, 48)[0])
    bad = {"count": None, "aspect": _save_gray(tmp_path / "tall.png", np.ones((60, 30), np.float32)),
           "black": _save_gray(tmp_path / "black.png", np.zeros((40, 48), np.float32)),
           "not-an-image": str(tmp_path / "text.png")}[case]
    (tmp_path / "text.png").write_text("not a png")
    mask_list = good if bad is None else f"{good},{bad}"
    out = tmp_path / "out.png"
    code = main(["stylize", str(content), *map(str, styles), "-o", str(out), "--size", "48", "--steps", "2",
                 "--masks", mask_list])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]
    assert not out.exists()


def test_masks_refuse_style_blend_and_tiles():
    content, styles = smooth_image(48, 48), [stripes(48, 48), smooth_image(48, 48, seed=9)]
    with pytest.raises(stylejax.StyleJaxError, match="`style_blend`"):
        stylejax.stylize(content, styles, size=48, steps=1, style_blend=(0.5, 0.5), masks=_halves(48, 48))
    with pytest.raises(stylejax.StyleJaxError, match="tiles"):
        stylejax.stylize(content, styles, size=256, steps=1, tile=128, masks=_halves(48, 48))
    with pytest.raises(stylejax.StyleJaxError, match="regions' masks"):
        stylejax.stylize(content, styles, size=48, steps=1, style_masks=[None, None])
    assert masks.load_mask(np.full((4, 4), 0.5)).shape == (4, 4)
