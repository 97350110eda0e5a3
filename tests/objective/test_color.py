"""Colour transfer before optimising: the style image takes the content's colours."""

import numpy as np
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax.cli.app import main
from stylejax.config import COLOR_TRANSFERS
from stylejax.objective import color


def _histogram_overlap(a: np.ndarray, b: np.ndarray, bins: int = 32) -> float:
    """Per-channel histogram intersection of two images, the worst channel: 1 = identical histograms."""
    overlaps = []
    for c in range(3):
        ha = np.histogram(a[..., c], bins, (0, 1))[0] / a[..., c].size
        hb = np.histogram(b[..., c], bins, (0, 1))[0] / b[..., c].size
        overlaps.append(np.minimum(ha, hb).sum())
    return min(overlaps)


def test_histogram_matching_gives_the_style_the_contents_channel_histograms():
    content = smooth_image(48, 40, seed=3) * np.array([0.3, 0.9, 0.5], np.float32)  # a greenish photo
    style = smooth_image(64, 64, seed=7)
    matched = np.asarray(color.transfer_colors(style, content, "histogram"))
    assert _histogram_overlap(style, content) < 0.6  # different to begin with
    assert _histogram_overlap(matched, content) > 0.95
    # Each channel keeps its ordering of values: the painting's structure stays.
    for c in range(3):
        assert np.corrcoef(matched[..., c].ravel(), style[..., c].ravel())[0, 1] > 0.95


def test_histogram_matching_keeps_flat_areas_flat():
    matched = np.asarray(color.match_histograms(stripes(32, 32), smooth_image(32, 32)))
    for c in range(3):  # two colours in, two colours out: ties map to one value
        assert len(np.unique(matched[..., c])) == 2


def test_lab_moments_match_the_contents_mean_and_covariance_in_lab():
    content = np.clip(smooth_image(40, 40, seed=1) * 0.6 + 0.2, 0, 1).astype(np.float32)
    style = smooth_image(56, 48, seed=5)
    matched = color.transfer_colors(style, content, "lab-moments")
    lab, want = (np.asarray(color.rgb_to_lab(x)).reshape(-1, 3) for x in (matched, content))
    np.testing.assert_allclose(lab.mean(0), want.mean(0), atol=1.0)  # L in [0, 100]
    np.testing.assert_allclose(np.cov(lab.T), np.cov(want.T), rtol=0.1, atol=5.0)
    np.testing.assert_allclose(np.asarray(color.lab_to_rgb(color.rgb_to_lab(style))), style, atol=1e-4)


@pytest.mark.slow
def test_stylize_with_colour_transfer_takes_the_contents_palette():
    content = smooth_image(48, 48, seed=2) * np.array([1.0, 0.55, 0.2], np.float32)  # orange
    style = stripes(48, 48)  # magenta and green

    def mean_colour(**options):
        return stylejax.stylize(content, style, size=48, steps=30, optimizer="adam", learning_rate=0.05,
                                chunk_steps=30, style_weight=1e4, **options).image.reshape(-1, 3).mean(0)

    drift = {m: np.abs(mean_colour(color_transfer=m) - content.reshape(-1, 3).mean(0)).sum()
             for m in COLOR_TRANSFERS}
    assert drift["histogram"] < 0.8 * drift["none"] and drift["lab-moments"] < 0.8 * drift["none"]


def test_colour_transfer_is_refused_by_batches_and_unknown_methods(tmp_path, capsys):
    with pytest.raises(stylejax.StyleJaxError, match="unknown color_transfer"):
        stylejax.StyleConfig(color_transfer="sepia")
    with pytest.raises(stylejax.StyleJaxError, match="use `stylize`"):
        stylejax.stylize_batch([smooth_image(48, 48)], stripes(48, 48), size=48, steps=2,
                               color_transfer="histogram")
    assert main(["stylize", "c.png", "s.png", "-o", str(tmp_path / "o.png"), "--color-transfer", "sepia"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
