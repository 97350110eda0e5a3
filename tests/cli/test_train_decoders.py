"""`stylejax train-decoders`: a small run writes a decoders folder; bad input is one line, exit 2, nothing written."""

import pytest
from sample_images import smooth_image

import stylejax
from stylejax.cli.app import main
from stylejax.network.decoder_files import load_decoders


@pytest.fixture()
def folders(tmp_path):
    for name in ("photos", "eval-broken"):
        (tmp_path / name).mkdir()
    for i in range(3):
        stylejax.save_image(smooth_image(40, 48, seed=i), tmp_path / "photos" / f"p{i}.png")
    (tmp_path / "eval-broken" / "x.png").write_text("not an image")
    return tmp_path


@pytest.mark.slow
def test_a_small_training_writes_a_decoders_folder(folders, capsys):
    out = folders / "decoders"
    assert main(["train-decoders", "--images", str(folders / "photos"), "-o", str(out), "--levels", "relu1_1",
                 "--steps", "2", "--size", "16", "--batch-size", "4", "--width", "0.25", "--sample-every", "0"]) == 0
    assert list(load_decoders(out)) == ["relu1_1"]
    assert f"decoders: {out}" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--images", "nowhere"], "nowhere: not a folder of training images"),
    (["--levels", "relu6_1"], "--levels 'relu6_1' has no decoder: use one of relu1_1"),
    (["--steps", "0"], "--steps must be a positive whole number per level"),
    (["--levels", "relu1_1", "relu2_1", "--steps", "1", "2", "3"], "one per level of --levels (2), got 3"),
    (["--size", "12"], "--size must be a multiple of 8"),
    (["--batch-size", "0"], "--batch-size must be a positive whole number"),
    (["--batch-size", "3"], "--batch-size 3 does not split over 4 devices"),
    (["--width", "0"], "--width must be positive"),
    (["--learning-rate", "-1"], "--learning-rate must be positive"),
    (["--feature-weight", "-1"], "--feature-weight must be >= 0"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be a positive whole number"),
    (["--steps", "many"], "argument --steps: invalid int value"),
    (["-o", "photos/decoders"], "the output would be inside --images: give another -o"),
    (["--eval-images", "eval-broken"], "no readable photo to evaluate on"),
    (["--style-images", "photos"], "decoders has no relu1_1, relu2_1, relu3_1, relu4_1 decoder to train on with "
                                   "AdaIN's objective: train it for reconstruction first (without --style-images)"),
    (["--style-images", "photos", "--style-weight", "0"], "--style-weight must be positive"),
    (["--style-images", "nowhere"], "nowhere: not a folder of training images"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(folders, capsys, monkeypatch, flags, message):
    monkeypatch.chdir(folders)
    before = sorted(folders.rglob("*"))
    assert main(["train-decoders", "--images", "photos", "-o", "decoders", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stylejax: error:") and message in err, err
    assert sorted(folders.rglob("*")) == before
