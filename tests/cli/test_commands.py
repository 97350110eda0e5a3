"""The command line: real runs on small images, and every kind of bad input."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sample_images import smooth_image, stripes

from stylejax import cli
from stylejax.io import images

FAST = ["--size", "40", "--steps", "4", "--optimizer", "adam"]


@pytest.fixture()
def files(tmp_path):
    images.save_image(smooth_image(50, 40), tmp_path / "content.png")
    images.save_image(stripes(48, 48), tmp_path / "style.png")
    images.save_image(smooth_image(48, 48, seed=5), tmp_path / "style2.png")
    return tmp_path


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_stylize_writes_the_output(files, capsys):
    out = files / "out.png"
    code, _, err = run(["stylize", files / "content.png", files / "style.png", files / "style2.png",
                        "--style-blend", "2,1", "-o", out, *FAST], capsys)
    assert code == 0, err
    assert Image.open(out).size == (32, 40)  # content aspect ratio, longest side --size


def test_save_every_writes_intermediate_images(files, capsys):
    out = files / "out.png"
    code, _, err = run(["stylize", files / "content.png", files / "style.png", "-o", out, *FAST,
                        "--save-every", "2", "--original-colors", "--init", "noise"], capsys)
    assert code == 0, err
    assert (files / "out_00002.png").is_file() and out.is_file()


@pytest.mark.parametrize("argv, message", [
    (["stylize", "missing.png", "style.png", "-o", "out.png"], "missing.png: no such file"),
    (["stylize", ".", "style.png", "-o", "out.png"], "is a directory"),
    (["stylize", "empty.png", "style.png", "-o", "out.png"], "empty file"),
    (["stylize", "text.png", "style.png", "-o", "out.png"], "not an image file"),
    (["stylize", "tiny.png", "style.png", "-o", "out.png", "--size", "40"], "too small"),
    (["stylize", "content.png", "style.png", "-o", "out.png", "--style-layers", "relu6_1"], "unknown layer"),
    (["stylize", "content.png", "style.png", "-o", "out.png", "--style-weight", "-1"], "style_weight must be"),
    (["stylize", "content.png", "style.png", "-o", "out.png", "--steps", "0"], "steps must be a positive"),
    (["stylize", "content.png", "style.png", "-o", "no/such/dir/out.png"], "does not exist"),
    (["stylize", "content.png", "style.png", "-o", "content.png", "--overwrite"], "replace an input"),
    (["stylize", "content.png", "style.png", "-o", "old.png"], "already exists"),
    (["stylize", "content.png", "style.png", "-o", "out.png", "--style-weight", "1e38"], "diverged"),
    (["stylize", "content.png", "style.png", "-o", "out.png", "--optimizer", "newton"], "unknown optimizer"),
    (["stylize", "content.png", "style.png", "-o", "out.png", "--style-blend", "a,b"], "comma-separated numbers"),
    (["stylize", "content.png", "style.png"], "required: -o/--output"),
    (["weights", "port", "missing.pth", "--arch", "vgg19"], "no such file"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(files, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(files)
    (files / "empty.png").write_bytes(b"")
    (files / "text.png").write_text("not an image")
    (files / "old.png").write_bytes(b"a user's earlier result")
    images.save_image(np.full((6, 6, 3), 0.5, np.float32), files / "tiny.png")
    before = {p.name: p.read_bytes() for p in files.iterdir()}
    if argv[0] == "stylize":  # small and fast unless the case itself sets these (later flags win)
        argv = argv[:1] + FAST + argv[1:]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("stylejax: error:") and message in err, err
    assert {p.name: p.read_bytes() for p in files.iterdir()} == before  # nothing added, nothing changed


def test_weights_list_and_port_through_the_cli(capsys, tmp_path):
    import torch
    from torch_vgg import torchvision_like_vgg

    net = torchvision_like_vgg("vgg19", seed=3)
    torch.save({f"features.{k}": v for k, v in net.state_dict().items()}, tmp_path / "v19.pth")
    code, out, err = run(["weights", "port", tmp_path / "v19.pth", "--arch", "vgg19", "--name", "cli-vgg19"], capsys)
    assert code == 0, err
    assert out.strip().endswith("cli-vgg19")
    code, out, _ = run(["weights", "list"], capsys)
    assert code == 0 and "cli-vgg19\tvgg19\ttorchvision" in out


def test_installed_entry_point_reports_errors_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stylejax", "stylize", str(tmp_path / "nope.png"),
                           str(tmp_path / "nope2.png"), "-o", str(tmp_path / "o.png")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"stylejax: error: {tmp_path / 'nope.png'}: no such file"]
    assert list(tmp_path.iterdir()) == []


def test_demo_writes_result_and_sheet(tmp_path, capsys):
    code, out, err = run(["demo", "-o", tmp_path / "demo", "--size", "48", "--steps", "3"], capsys)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert names == ["astronaut_stained_glass.png", "sheet.png", "stained_glass.png"]
    sheet = Image.open(tmp_path / "demo" / "sheet.png")
    assert sheet.width > 3 * 48 and sheet.height > 48
    code, _, err = run(["demo", "-o", tmp_path / "demo", "--size", "48", "--steps", "3"], capsys)
    assert code == 2 and "--overwrite" in err
