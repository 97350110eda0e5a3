import numpy as np
import pytest
from sample_images import smooth_image, stripes

from stylejax.bench.scores import score_stylization


def test_the_photo_scores_as_itself_and_the_painting_as_the_painting(vgg16):
    photo, painting = smooth_image(48, 64), stripes(48, 64)
    itself = score_stylization(vgg16, photo, painting, photo)
    assert itself.style_gain == pytest.approx(1.0) and itself.content_ratio == pytest.approx(0.0, abs=1e-6)
    copied = score_stylization(vgg16, photo, painting, painting)
    assert copied.content_ratio == pytest.approx(1.0, rel=1e-5) and copied.style_gain > 100


def test_a_blend_scores_between_the_two(vgg16):
    photo, painting = smooth_image(48, 64, seed=1), stripes(48, 64)
    half = score_stylization(vgg16, photo, painting, 0.5 * photo + 0.5 * painting)
    assert 1 < half.style_gain < 100 and 0 < half.content_ratio < 1


def test_the_photo_is_resized_to_the_output(vgg16):
    photo, painting = smooth_image(96, 128, seed=2), stripes(64, 64)
    small = np.asarray(smooth_image(48, 64, seed=2))
    assert score_stylization(vgg16, photo, painting, small).content_ratio < 0.2
