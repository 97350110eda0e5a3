"""`stylejax transfer`: a photo to a file, a folder to a folder with a broken file (exit 1, resumed), bad input
in one line, exit 2, nothing written. Tiny random decoders at relu1_1 and relu2_1, saved to a folder."""

import json

import numpy as np
import pytest
from sample_images import smooth_image, stripes
from tiny_decoders import decoder_folder

import stylejax
from stylejax.cli.app import main


@pytest.fixture(scope="module")
def decoders(tmp_path_factory, weights_cache):
    """Read only: the module's tests share it."""
    return decoder_folder(tmp_path_factory.mktemp("decoders"), ("relu1_1", "relu2_1"))


@pytest.fixture()
def files(tmp_path):
    stylejax.save_image(smooth_image(30, 50), tmp_path / "photo.png")
    stylejax.save_image(stripes(40, 36), tmp_path / "style.png")
    stylejax.save_image(smooth_image(48, 48, 3), tmp_path / "sky.png")
    left = np.zeros((30, 50, 3), np.float32)
    left[:, :25] = 1
    stylejax.save_image(left, tmp_path / "left.png")
    stylejax.save_image(1 - left, tmp_path / "right.png")
    stylejax.save_image(np.ones((40, 40, 3), np.float32), tmp_path / "square.png")
    return tmp_path


@pytest.mark.slow
def test_a_photo_to_a_file_with_two_paintings_by_regions(decoders, files, capsys):
    out = files / "out.png"
    out.write_bytes(b"an earlier output")  # replaced, as `stylejax apply` replaces its output
    assert main(["transfer", str(files / "photo.png"), "--style", str(files / "style.png"), str(files / "sky.png"),
                 "-o", str(out), "--size", "40", "--masks", f"{files / 'left.png'},{files / 'right.png'}",
                 "--decoders", str(decoders)]) == 0
    image, photo = stylejax.load_image(out), stylejax.load_image(files / "photo.png")
    assert image.shape == (24, 40, 3) and np.abs(image - photo[:24, :40]).mean() > 0.02
    assert f"wrote {out}" in capsys.readouterr().err


def test_a_folder_with_a_broken_file_exits_1_the_rest_done_and_a_rerun_skips_them(decoders, files, capsys):
    source, out = files / "in", files / "out"
    (source / "nested").mkdir(parents=True)
    stylejax.save_image(smooth_image(32, 48, 1), source / "a.png")
    stylejax.save_image(smooth_image(40, 40, 2), source / "nested" / "b.png")
    (source / "broken.png").write_text("not an image")
    command = ["transfer", str(source), "--style", str(files / "style.png"), "-o", str(out), "--method", "adain",
               "--levels", "relu2_1", "--alpha", "0.8", "--decoders", str(decoders)]
    assert main(command) == 1
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(r["input"] for r in records if r["status"] == "done") == ["a.png", "nested/b.png"]
    assert [r["input"] for r in records if r["status"] == "failed"] == ["broken.png"]
    assert stylejax.load_image(out / "nested" / "b.png").shape == (40, 40, 3) and not (out / "broken.png").exists()
    err = capsys.readouterr().err
    assert "2 done, 0 already there, 1 failed" in err and "failed: broken.png: " in err
    assert main(command) == 1
    assert "0 done, 2 already there, 1 failed" in capsys.readouterr().err


def damaged(folder, decoders):
    """A copy of `decoders` whose relu1_1 file changed since decoders.json recorded it."""
    import shutil

    shutil.copytree(decoders, folder / "damaged")
    (folder / "damaged" / "relu1_1.npz").write_bytes(b"not the decoder")
    return folder / "damaged"


@pytest.mark.parametrize("flags, message", [
    (["--decoders", "nowhere"], "nowhere: not a decoders folder"),
    (["--decoders", "DAMAGED"], "relu1_1.npz: missing or changed since it was written"),
    (["--alpha", "1.5"], "--alpha must be a number in [0, 1]"),
    (["--painting-colors", "-1"], "--painting-colors must be a number in [0, 1]"),
    (["--painting-colors", "0.5", "--original-colors"], "--original-colors keeps the photo's colours"),
    (["--style-blend", "1"], "--style-blend has 1 weights for 2 style image(s)"),
    (["--style-blend", "1,x"], "--style-blend takes comma-separated numbers"),
    (["--style-size", "3"], "--style 1 is 3x3 px: relu2_1 needs a short side of at least 4 px"),
    (["--size", "3"], "--size must be at least 4 px for relu2_1"),
    (["--masks", "left.png"], "1 mask(s) for 2 style image(s)"),
    (["--masks", "left.png,square.png"], "square.png: the mask is 40x40 but the content image is 50x30"),
    (["--masks", "left.png,right.png", "--style-blend", "1,1"], "--style-blend mixes the styles everywhere"),
    (["--masks-dir", "."], "--masks-dir holds a folder's masks: for one photo give --masks"),
    (["--method", "linear"], "argument --method: invalid choice: 'linear'"),
    (["--levels", "relu9_1"], "--levels 'relu9_1' has no decoder"),
    (["--levels", "relu4_1"], "--levels: no decoder for relu4_1"),
    (["--workers", "2"], "--workers is the size of a Ray fleet: it needs --ray"),
    (["-o", "photo.png"], "the output is one of the inputs"),
    (["--style", "missing.png"], "missing.png"),
])
def test_bad_input_for_one_photo_is_one_line_exit_2_nothing_written(decoders, files, capsys, monkeypatch, flags,
                                                                     message):
    monkeypatch.chdir(files)
    flags = [str(damaged(files, decoders)) if flag == "DAMAGED" else flag for flag in flags]
    before = sorted(files.rglob("*"))
    assert main(["transfer", "photo.png", "--style", "style.png", "sky.png", "-o", "out.png",
                 "--decoders", str(decoders), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stylejax: error:") and message in err, err
    assert sorted(files.rglob("*")) == before


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "0"], "--batch-size must be a positive whole number"),
    (["--masks", "left.png,right.png"], "--masks are one photo's regions: for a folder of photos give --masks-dir"),
    (["--masks-dir", "masks"], "no mask for p.png in masks/style"),
    (["--alpha", "-0.1"], "--alpha must be a number in [0, 1]"),
])
def test_bad_input_for_a_folder_is_one_line_exit_2_nothing_written(decoders, files, capsys, monkeypatch, flags,
                                                                    message):
    monkeypatch.chdir(files)
    (files / "in").mkdir()
    (files / "masks").mkdir()
    stylejax.save_image(smooth_image(32, 32), files / "in" / "p.png")
    before = sorted(files.rglob("*"))
    assert main(["transfer", "in", "--style", "style.png", "sky.png", "-o", "out", "--decoders", str(decoders),
                 *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stylejax: error:") and message in err, err
    assert sorted(files.rglob("*")) == before
