"""Training: killed and resumed ends bit-identical; the loss falls; a 2-style network applies each style and a mix;
`stylejax train`'s bad input."""

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax.cli.app import main
from stylejax.network.settings import TrainSettings

SETTINGS = TrainSettings(size=32, steps=6, batch_size=4, width=8, learning_rate=1e-2, checkpoint_every=2,
                         sample_every=3, content_layers=("relu2_1",), style_layers=("relu1_1", "relu2_1", "relu3_1"),
                         precision="f32")


@pytest.fixture(scope="module")
def styles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("styles")
    paths = [folder / "stripes.png", folder / "waves.png"]
    stylejax.save_image(stripes(48, 48), paths[0])
    stylejax.save_image(smooth_image(48, 48, 7), paths[1])
    return paths


class Killed(Exception):
    pass


def leaves(model):
    return [np.asarray(x) for x in jax.tree.leaves(stylejax.load_network(model).params)]


@pytest.fixture(scope="module")
def whole(photos, styles, tmp_path_factory):
    """A 2-style network trained without interruption; read only, the module's tests share it."""
    return stylejax.train_network(styles, photos, tmp_path_factory.mktemp("whole") / "model", SETTINGS)


@pytest.mark.slow
def test_killed_and_resumed_ends_bit_identical(whole, photos, styles, tmp_path):
    def kill_at_5(step, terms):
        if step == 5:
            raise Killed  # after the step-4 checkpoint, before the end
    with pytest.raises(Killed):
        stylejax.train_network(styles, photos, tmp_path / "resumed", SETTINGS, progress=kill_at_5)
    lines = []
    stylejax.train_network(styles, photos, tmp_path / "resumed", SETTINGS, log=lines.append)
    assert "resuming from step 4" in lines
    for a, b in zip(leaves(whole), leaves(tmp_path / "resumed"), strict=True):
        np.testing.assert_array_equal(a, b)
    with (tmp_path / "resumed" / "train.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3, 4, 5, 6]
    assert (whole / "loss.png").exists() and (whole / "samples" / "step_000006.png").exists()
    assert not (whole / "checkpoints").exists()


@pytest.mark.slow
def test_the_two_styles_and_a_mix_apply(whole):
    net = stylejax.load_network(whole)
    assert net.num_styles == 2 and net.style_names == ["stripes.png", "waves.png"]
    photo = jnp.asarray(smooth_image(40, 52, 3))
    forward = jax.jit(net)  # compiled once for the three: an eager forward costs tens of seconds
    first, second, mix = (forward(photo, net.style_weights(s)) for s in (0, 1, [0.5, 0.5]))
    assert first.shape == photo.shape
    assert float(jnp.abs(first - second).mean()) > 1e-3
    assert float(jnp.abs(mix - first).mean()) > 1e-4 and float(jnp.abs(mix - second).mean()) > 1e-4
    batch = jnp.stack([photo, photo[::-1]])
    np.testing.assert_allclose(jax.jit(jax.vmap(net))(batch)[0], first, atol=1e-5)
    with pytest.raises(stylejax.StyleJaxError, match="does not exist"):
        net(photo, 2)


@pytest.mark.slow
def test_the_loss_falls_and_the_output_is_not_the_input(photos, styles, tmp_path):
    settings = TrainSettings(**{**SETTINGS.__dict__, "steps": 30, "checkpoint_every": 100, "sample_every": 0})
    model = stylejax.train_network(styles[:1], photos, tmp_path / "net", settings)
    with (model / "train.csv").open() as f:
        totals = [float(r["total"]) for r in csv.DictReader(f)]
    assert np.mean(totals[-5:]) < 0.5 * np.mean(totals[:3])
    photo = jnp.asarray(smooth_image(48, 48, 4))
    assert float(jnp.abs(jax.jit(stylejax.load_network(model))(photo) - photo).mean()) > 0.05


def test_train_with_no_images_is_one_line_exit_2(tmp_path, capsys):
    stylejax.save_image(smooth_image(32, 32), tmp_path / "style.png")
    (tmp_path / "empty").mkdir()
    assert main(["train", "--style", str(tmp_path / "style.png"), "--images", str(tmp_path / "empty"),
                 "-o", str(tmp_path / "m")]) == 2
    assert "no image files" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("output", ["photos", "photos/model", "style.png"])
def test_train_into_its_own_inputs_is_one_line_exit_2_nothing_written(tmp_path, capsys, output):
    stylejax.save_image(smooth_image(32, 32), tmp_path / "style.png")
    (tmp_path / "photos").mkdir()
    stylejax.save_image(smooth_image(32, 32, 3), tmp_path / "photos" / "a.png")
    before = sorted(tmp_path.rglob("*"))
    assert main(["train", "--style", str(tmp_path / "style.png"), "--images", str(tmp_path / "photos"),
                 "-o", str(tmp_path / output)]) == 2
    assert "would be an input or inside --images" in capsys.readouterr().err
    assert sorted(tmp_path.rglob("*")) == before


def test_train_batch_that_does_not_split_is_one_line_exit_2_nothing_written(tmp_path, capsys):
    # The suite runs on 4 CPU devices (tests/conftest.py), as train-decoders' test of the same message.
    stylejax.save_image(smooth_image(32, 32), tmp_path / "style.png")
    (tmp_path / "photos").mkdir()
    stylejax.save_image(smooth_image(32, 32, 3), tmp_path / "photos" / "a.png")
    before = sorted(tmp_path.rglob("*"))
    assert main(["train", "--style", str(tmp_path / "style.png"), "--images", str(tmp_path / "photos"),
                 "-o", str(tmp_path / "m"), "--batch-size", "3"]) == 2
    err = capsys.readouterr().err
    assert "--batch-size 3 does not split over 4 devices: use a multiple of 4" in err and len(err.splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == before
