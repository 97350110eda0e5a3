import pytest

from stylejax.errors import StyleJaxError
from stylejax.network.settings import PAINTING_SIDE, TrainSettings


@pytest.mark.parametrize("size", [128, 256])
def test_the_painting_is_at_the_painting_side_whatever_the_crops_by_default(size):
    settings = TrainSettings(size=size)
    assert settings.objective_config().style_scale * size == PAINTING_SIDE


def test_an_explicit_style_scale_is_relative_to_the_crops():
    assert TrainSettings(size=128, style_scale=1.5).objective_config().style_scale == 1.5


@pytest.mark.parametrize("bad", [dict(style_scale=0.0), dict(style_scale=-2.0), dict(steps=0), dict(batch_size=0),
                                 dict(width=10), dict(learning_rate=0.0), dict(sample_every=-1)])
def test_bad_settings_are_one_error(bad):
    with pytest.raises(StyleJaxError):
        TrainSettings(**bad)


def test_the_train_command_passes_the_style_scale(monkeypatch, tmp_path):
    from stylejax import cli
    from stylejax.network import train

    seen = []
    monkeypatch.setattr(train, "train_network", lambda styles, images, output, settings, **_: seen.append(settings))
    assert cli.main(["train", "--style", "s.png", "--images", "d", "-o", str(tmp_path / "m"), "--size", "64",
                     "--style-scale", "3"]) == 0
    assert seen[0].objective_config().style_scale == 3.0
