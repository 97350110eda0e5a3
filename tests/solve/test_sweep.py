"""`stylejax sweep`: a grid of style weights as one batch, one compiled program, a labelled sheet."""

import jax
import numpy as np
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax.cli.app import main
from stylejax.runtime.meshes import local_mesh
from stylejax.solve import scales
from stylejax.solve.batch import BatchSolver
from stylejax.solve.sweep import sweep, sweep_sheet


@pytest.mark.slow
def test_a_sweep_of_three_style_weights_is_one_batch_and_one_compiled_program():
    content, style = smooth_image(48, 40), stripes(48, 48)
    config = stylejax.StyleConfig(size=48, steps=15)  # L-BFGS: Adam's steps would not see the weights' balance
    mesh = local_mesh(jax.local_devices()[:1])
    weights = [1e-1, 1e1, 1e3]
    result = sweep(content, style, config, style_weights=weights, mesh=mesh, vmap_size=None)

    # The three cells were rows of one lockstep batch: its run program compiled once, for all of them.
    final = BatchSolver.create(style, scales.at_scale(config, scales.plan_scales(config)[-1]), mesh,
                               vmap_size=None)
    assert final.programs().run._cache_size() == 1

    assert result.cells == [(1.0, w) for w in weights]
    distances = [cell["style"] / w for cell, w in zip(result.losses, weights, strict=True)]
    assert distances[0] > distances[1] > distances[2]  # more style weight: closer to the style
    assert result.losses[0]["content"] < result.losses[1]["content"] < result.losses[2]["content"]
    assert np.abs(result.images[0] - result.images[2]).mean() > 0.02
    sheet = sweep_sheet(result, height=48)
    assert sheet.shape[0] == 48 + 22 and sheet.shape[1] > 3 * 40


@pytest.mark.slow
def test_sweep_cli_writes_the_sheet_and_each_cell(tmp_path, capsys):
    content, style, out = tmp_path / "c.png", tmp_path / "s.png", tmp_path / "grid"
    stylejax.save_image(smooth_image(40, 48), content)
    stylejax.save_image(stripes(48, 48), style)
    args = ["sweep", str(content), str(style), "-o", str(out), "--size", "48", "--steps", "2",
            "--style-weights", "1e2,1e4", "--content-weights", "1,10"]
    assert main(args) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(["sheet.png", "style-100_content-1.png", "style-100_content-10.png",
                              "style-10000_content-1.png", "style-10000_content-10.png"])
    sheet = stylejax.load_image(out / "sheet.png")
    assert sheet.shape[0] == 2 * (48 + 22) + 8  # two rows: the content weights

    assert main(args) == 2  # outputs exist: nothing replaced without --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main([*args[:-4], "--style-weights", "1e2,-1", "-o", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
