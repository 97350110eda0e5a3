"""Outputs of `stylize`, `stylize_batch`, `stylejax batch` and `stylejax video` against those saved before the
architecture move (tests/golden/make_golden.py): the restructuring changed no result a user sees.

The saved outputs were made on one CPU model; this suite runs on others, whose XLA kernels round floats
differently in the last bits. How far that carries depends on the optimizer, so each check's tolerance says
why it holds across CPUs:
- Adam moves each pixel by about its learning rate a step whatever the gradient's last bits, so its pixels
  stay close: measured 3e-7 apart between an AVX2 and an AVX-512 EPYC (2026-12-04).
- L-BFGS amplifies last-bit differences through its curvature pairs and line search: a few pixels end up to
  0.0085 apart on the same two CPUs, so its pixels are chaotic and are not compared one by one. What a
  restructuring must keep is the result: the Gatys loss of the output (measured 0.03 % apart) and the image as
  a whole (mean pixel distance measured 3.5e-4, against 0.2 that the optimisation moved it). A change to the
  objective, the loop or the scales moves those by far more than their tolerances.
- The commands write 8-bit PNGs of L-BFGS runs: a pixel near a level's edge rounds either way, so again the
  mean distance (measured under a third of a level) is compared, not each pixel.
"""

import numpy as np
import pytest
from golden_cases import SCALES, batch_command, stylize_adam, stylize_batch, stylize_lbfgs, video_command
from sample_images import smooth_image, stripes

pytestmark = pytest.mark.slow

ADAM_TOLERANCE = 2e-3  # absolute, on pixels in [0, 1]: thousands of times the cross-CPU difference measured
LOSS_TOLERANCE = 5e-3  # relative: 16x the 0.03 % measured across CPUs
MEAN_TOLERANCE = 2e-3  # mean absolute pixel distance: 5x the 3.5e-4 measured across CPUs, 1 % of the run's change


@pytest.fixture(scope="module")
def saved():
    from pathlib import Path

    return dict(np.load(Path(__file__).parent / "golden" / "outputs.npz"))


def gatys_loss(image: np.ndarray, content: np.ndarray) -> float:
    """The loss `stylize` minimised at its final scale (the content is already at that size)."""
    import stylejax

    config = stylejax.StyleConfig(**SCALES)
    objective, args, _ = stylejax.prepare(stylejax.load_vgg(), content, [stripes(64, 64)], config)
    return float(objective(image, args))


def assert_same_result(actual: np.ndarray, expected: np.ndarray) -> None:
    """The same image as a whole: mean pixel distance within MEAN_TOLERANCE (pixels themselves may be chaotic)."""
    assert actual.shape == expected.shape
    distance = float(np.abs(actual - expected).mean())
    assert distance <= MEAN_TOLERANCE, f"mean pixel distance {distance:.2e}"


def test_stylize_with_lbfgs_matches_the_saved_output(saved):
    content = smooth_image(48, 64)  # golden_cases.stylize_lbfgs's
    output = stylize_lbfgs()
    assert_same_result(output, saved["stylize_lbfgs"])
    want = gatys_loss(saved["stylize_lbfgs"], content)
    assert gatys_loss(output, content) == pytest.approx(want, rel=LOSS_TOLERANCE)
    assert want < 0.2 * gatys_loss(content, content)  # the saved run did optimise: a loss check that can fail


def test_stylize_with_adam_matches_the_saved_output(saved):
    np.testing.assert_allclose(stylize_adam(), saved["stylize_adam"], atol=ADAM_TOLERANCE, rtol=0)


@pytest.mark.heavy
def test_stylize_batch_matches_the_saved_outputs(saved):
    outputs = np.concatenate([image.reshape(-1) for image in stylize_batch()])  # Adam
    np.testing.assert_allclose(outputs, saved["stylize_batch"], atol=ADAM_TOLERANCE, rtol=0)


# `make test-all`: the batch command's images are stylize's (tests/solve/test_batch.py, in `make test`), whose
# golden check above runs in `make test`; this one walks the whole command against the saved files too.
@pytest.mark.heavy
def test_the_batch_command_matches_the_saved_outputs(saved, tmp_path):
    assert_same_result(np.concatenate([image.reshape(-1) for image in batch_command(tmp_path)]),
                       saved["batch_command"])


def test_the_video_command_matches_the_saved_outputs(saved, tmp_path):
    assert_same_result(np.stack(video_command(tmp_path)), saved["video_command"])


def test_the_result_check_fails_on_a_different_result(saved):
    """A result moved by a tenth of what the optimisation moved it is caught (the check is not vacuous)."""
    output = saved["stylize_lbfgs"]
    start = smooth_image(48, 64)
    with pytest.raises(AssertionError):
        assert_same_result(output + 0.1 * (start - output), output)
