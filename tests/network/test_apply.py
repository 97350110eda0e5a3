"""`stylejax apply` (and its job): file to file, folder to folder with a broken file, bad input in one line."""

import json

import numpy as np
import pytest
from sample_images import smooth_image
from style_networks import random_network

import stylejax
from stylejax.cli.app import main
from stylejax.network.model_dir import save_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Read only: the module's tests share it."""
    folder = tmp_path_factory.mktemp("model")
    save_model(folder, random_network(8, 2, seed=1), {"styles": [{"name": "a.png"}, {"name": "b.png"}]})
    return folder


def test_a_file_to_a_file_keeps_the_aspect_ratio(model, tmp_path):
    stylejax.save_image(smooth_image(30, 50), tmp_path / "in.png")
    assert main(["apply", str(model), str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--size", "40",
                 "--network-style-mix", "0.5,0.5"]) == 0
    assert stylejax.load_image(tmp_path / "out.png").shape == (24, 40, 3)


def test_a_folder_with_a_broken_file_exits_1_and_the_rest_are_done(model, photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["apply", str(model), str(photos), "-o", str(out), "--size", "32", "--network-style", "1"]) == 1
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    done = sorted(r["input"] for r in records if r["status"] == "done")
    assert len(done) == 5 and "nested/coffee.png" in done
    assert [r["input"] for r in records if r["status"] == "failed"] == ["broken.png"]
    assert not (out / "broken.png").exists()
    assert main(["apply", str(model), str(photos), "-o", str(out), "--size", "32"]) == 1  # resumed: all skipped
    assert "0 done, 5 already there, 1 failed" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--network-style-mix", "0.5,0.5,0"], "one weight per style"),
    (["--network-style-mix", "1,-1"], ">= 0"),
    (["--network-style", "2"], "does not exist"),
    (["--network-style", "0", "--network-style-mix", "1,0"], "give one"),
    (["--style", "1"], "unrecognized arguments"),  # --style means style images; a network's is --network-style
    (["--size", "4"], "--size must be at least 8 px"),
])
def test_bad_style_choices_are_one_line_exit_2_nothing_written(model, tmp_path, capsys, flags, message):
    stylejax.save_image(smooth_image(32, 32), tmp_path / "in.png")
    assert main(["apply", str(model), str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_a_bad_batch_size_is_one_line_exit_2_nothing_written(model, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    stylejax.save_image(smooth_image(32, 32), tmp_path / "in" / "a.png")
    assert main(["apply", str(model), str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--batch-size", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--batch-size must be a positive whole number" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("single", [True, False])
def test_a_size_too_large_for_memory_is_one_line_exit_2_nothing_written(model, photos, tmp_path, capsys,
                                                                        monkeypatch, single):
    from stylejax.runtime import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 2**16)  # 64 KiB: no 64 px image fits
    source, out = (photos / "nested" / "coffee.png", tmp_path / "out.png") if single else (photos, tmp_path / "out")
    assert main(["apply", str(model), str(source), "-o", str(out), "--size", "64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--size 64" in err[0] and "use a smaller --size" in err[0], err
    assert not out.exists()


def test_not_a_model_and_output_equal_to_input_are_exit_2(model, tmp_path, capsys):
    stylejax.save_image(smooth_image(32, 32), tmp_path / "in.png")
    assert main(["apply", str(tmp_path), str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png")]) == 2
    assert main(["apply", str(model), str(tmp_path / "in.png"), "-o", str(tmp_path / "in.png")]) == 2
    assert np.allclose(stylejax.load_image(tmp_path / "in.png"), smooth_image(32, 32), atol=1 / 255)
    assert len(capsys.readouterr().err.strip().splitlines()) == 2
