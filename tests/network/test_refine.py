"""`refine`, `stylejax stylize --network` and `--init wct|adain`: the optimisation starts at one pass's output (a
network's, the one-pass transfer's), at full size."""

import jax
import numpy as np
import pytest
from sample_images import smooth_image, stripes
from style_networks import random_network
from tiny_decoders import decoder_folder

import stylejax
from stylejax.cli.app import main
from stylejax.io.images import resize
from stylejax.network.model_dir import save_model
from stylejax.network.refine import network_start, refine_config, transfer_start
from stylejax.objective import targets

RUN = dict(size=48, steps=3, optimizer="adam", chunk_steps=3)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Read only: the module's tests share it."""
    folder = tmp_path_factory.mktemp("model")
    save_model(folder, random_network(8, 2, seed=1), {"styles": [{"name": "a.png"}, {"name": "b.png"}]})
    return folder


@pytest.fixture(scope="module")
def decoders(tmp_path_factory, weights_cache):
    """Tiny random decoders at relu4_1 (AdaIN's level) and relu1_1; read only."""
    return decoder_folder(tmp_path_factory.mktemp("decoders"), ("relu1_1", "relu4_1"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    return (stylejax.save_image(smooth_image(40, 60), folder / "content.png"),
            stylejax.save_image(stripes(50, 50), folder / "style.png"))


def assert_starts_from(start, result, content, style):
    """`result` (a refinement at RUN's final size only) began at `start`: its first loss is the Gatys loss of
    `start`, and not of the content."""
    assert result.scales == (48,) and result.image.shape == (32, 48, 3)
    config = stylejax.StyleConfig(**RUN)
    objective, args, _ = targets.prepare(stylejax.load_vgg(), np.asarray(resize(content, (32, 48))), [style],
                                         config)
    assert float(jax.jit(objective)(start, args)) == pytest.approx(float(result.loss_history[0]), rel=1e-4)
    from_content = stylejax.stylize(content, style, config, min_size=48)
    assert not np.isclose(from_content.loss_history[0], result.loss_history[0])  # it really starts elsewhere


def test_refining_runs_the_final_scale_only_unless_min_size_says_otherwise():
    assert refine_config(stylejax.StyleConfig(size=512)).min_size == 512
    assert refine_config(stylejax.StyleConfig(size=512, min_size=256)).min_size == 256
    with pytest.raises(stylejax.StyleJaxError, match="two starting points"):
        refine_config(stylejax.StyleConfig(init="noise"))


@pytest.mark.slow
def test_the_start_is_the_network_output_at_the_working_size(model):
    net = stylejax.load_network(model)
    content = smooth_image(40, 60)
    start = network_start(net, content, 48, style=1)
    assert start.shape == (32, 48, 3)
    np.testing.assert_allclose(start, net(resize(content, (32, 48)), style=1), atol=1e-5)


@pytest.mark.slow
def test_the_first_step_loss_is_the_gatys_loss_of_the_network_output(model, files):
    content, style = map(stylejax.load_image, files)
    net = stylejax.load_network(model)
    result = stylejax.refine(content, style, net, model_style=[0.5, 0.5], **RUN)
    assert_starts_from(network_start(net, content, 48, style=[0.5, 0.5]), result, content, style)


@pytest.mark.slow
def test_stylize_from_a_network_writes_the_refined_image(model, files, tmp_path, capsys):
    content, style = files
    out = tmp_path / "out.png"
    assert main(["stylize", str(content), str(style), "-o", str(out), "--network", str(model), "--steps", "3",
                 "--size", "48", "--optimizer", "adam", "--network-style", "1", "-v"]) == 0
    assert stylejax.load_image(out).shape == (32, 48, 3)
    assert "3 steps over 1 scales" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--network", "NOT_A_MODEL"], "not a style network"),
    (["--network", "MODEL", "--init", "noise"], "--init 'noise' and a one-pass output"),
    (["--network", "MODEL", "--network-style", "2"], "does not exist"),
    (["--network", "MODEL", "--network-style", "0", "--network-style-mix", "1,0"], "give one"),
    (["--network-style", "1"], "add --network"),
    (["--model", "MODEL"], "use --network"),
])
def test_bad_network_use_is_one_line_exit_2_nothing_written(model, files, tmp_path, capsys, flags, message):
    content, style = files
    flags = [str(model) if f == "MODEL" else str(tmp_path / f) if f == "NOT_A_MODEL" else f for f in flags]
    (tmp_path / "NOT_A_MODEL").mkdir()
    out = tmp_path / "out.png"
    assert main(["stylize", str(content), str(style), "-o", str(out), "--size", "48", "--steps", "2", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["NOT_A_MODEL"]


def test_the_transfer_start_is_the_transfer_at_the_working_size_with_the_objective_s_style_size(decoders):
    transfer = stylejax.load_transfer(decoders)
    content, painting = smooth_image(40, 60), stripes(50, 50)
    config = stylejax.StyleConfig(size=48, style_scale=0.75)
    start = transfer_start(transfer, content, painting, config, stylejax.TransferSettings(method="adain"))
    assert start.shape == (32, 48, 3)
    alone = transfer.run(resize(content, (32, 48)), [resize(painting, (36, 36))],
                         stylejax.TransferSettings(method="adain"))
    np.testing.assert_allclose(start, alone, atol=1e-5)


@pytest.mark.slow
def test_the_first_step_loss_is_the_gatys_loss_of_the_transfer_output(decoders, files):
    content, style = map(stylejax.load_image, files)
    transfer = stylejax.load_transfer(decoders)
    result = stylejax.refine(content, style, transfer, **RUN)
    assert_starts_from(transfer_start(transfer, content, style, stylejax.StyleConfig(**RUN)), result, content,
                       style)


@pytest.mark.slow
def test_stylize_from_the_one_pass_transfer_writes_the_refined_image(decoders, files, tmp_path, capsys):
    content, style = files
    out = tmp_path / "out.png"
    assert main(["stylize", str(content), str(style), "-o", str(out), "--init", "adain", "--decoders",
                 str(decoders), "--steps", "3", "--size", "48", "--optimizer", "adam", "-v"]) == 0
    assert stylejax.load_image(out).shape == (32, 48, 3)
    assert "3 steps over 1 scales" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--init", "wct", "--decoders", "NOWHERE"], "not a decoders folder"),
    (["--init", "wct", "--decoders", "DECODERS", "--network", "MODEL"], "--init wct and --network are two starting"),
    (["--decoders", "DECODERS"], "--decoders only applies with --init wct or --init adain"),
    (["--init", "adain", "--decoders", "DECODERS", "--style-blend", "1,2"], "--style-blend has 2 weights for 1"),
])
def test_bad_one_pass_start_is_one_line_exit_2_nothing_written(decoders, model, files, tmp_path, capsys, flags,
                                                               message):
    content, style = files
    flags = [str(model) if f == "MODEL" else str(decoders) if f == "DECODERS" else str(tmp_path / f)
             if f == "NOWHERE" else f for f in flags]
    out = tmp_path / "out.png"
    assert main(["stylize", str(content), str(style), "-o", str(out), "--size", "48", "--steps", "2", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
