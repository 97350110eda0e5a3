"""TransferSettings: defaults per method among the decoders' levels, blends normalised, bad values refused with
the parameter named. Compiles nothing."""

import pytest

from stylejax.autoencoder.settings import TransferSettings
from stylejax.errors import StyleJaxError

ALL = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def test_default_levels_are_the_methods_among_the_decoders():
    assert TransferSettings(method="wct").resolved_levels(ALL) == ("relu4_1", "relu3_1", "relu2_1", "relu1_1")
    assert TransferSettings(method="wct").resolved_levels(("relu1_1", "relu3_1")) == ("relu3_1", "relu1_1")
    assert TransferSettings().resolved_levels(ALL) == ("relu4_1",)  # AdaIN, the default: one level
    # Decoders without relu4_1: AdaIN at the deepest level they have below it.
    assert TransferSettings().resolved_levels(("relu1_1", "relu2_1")) == ("relu2_1",)
    # Given levels run deepest first whatever their order, from a tuple or a CLI string.
    assert TransferSettings(levels=("relu1_1", "relu5_1")).resolved_levels(ALL) == ("relu5_1", "relu1_1")
    assert TransferSettings(levels="relu2_1, relu3_1").levels == ("relu3_1", "relu2_1")
    with pytest.raises(StyleJaxError, match="`levels`: no decoder for relu4_1"):
        TransferSettings(levels=("relu4_1",)).resolved_levels(("relu1_1",))
    with pytest.raises(StyleJaxError, match="`levels`: adain runs at relu4_1"):
        TransferSettings(method="adain").resolved_levels(("relu5_1",))


def test_blend_weights_are_normalised_and_need_one_per_style():
    assert TransferSettings().blend_weights(4) == (0.25,) * 4
    assert TransferSettings(style_blend=(3, 1)).blend_weights(2) == (0.75, 0.25)
    assert TransferSettings(style_blend="1,0").blend_weights(2) == (1.0, 0.0)
    with pytest.raises(StyleJaxError, match="`style_blend` has 2 weights for 3 style"):
        TransferSettings(style_blend=(1, 1)).blend_weights(3)


@pytest.mark.parametrize(("values", "parameter"), [
    ({"alpha": 1.5}, "alpha"), ({"alpha": -0.1}, "alpha"), ({"alpha": float("nan")}, "alpha"),
    ({"method": "linear"}, "method"), ({"sqrt": "svd"}, "sqrt"),
    ({"style_blend": (1, -1)}, "style_blend"), ({"style_blend": (0, 0)}, "style_blend"),
    ({"style_blend": ()}, "style_blend"),
    ({"levels": ("relu4_2",)}, "level"), ({"levels": ("relu4_1", "relu4_1")}, "levels"), ({"levels": ()}, "levels"),
    ({"original_colors": "yes"}, "original_colors"), ({"size": 0}, "size"), ({"style_size": 2.5}, "style_size"),
    ({"painting_colors": 1.2}, "painting_colors"), ({"painting_colors": True}, "painting_colors"),
    ({"original_colors": True, "painting_colors": 0.5}, "original_colors"),
])
def test_bad_values_name_the_parameter(values, parameter):
    with pytest.raises(StyleJaxError, match=f"`{parameter}`"):
        TransferSettings(**values)


def test_alpha_defaults_to_the_measured_strength_of_each_method():
    # WCT at 0.6 scored both more painted and closer to the photo than at 1.0 (docs/transfer.md).
    assert TransferSettings(method="wct").alpha == 0.6 and TransferSettings().alpha == 1.0  # AdaIN, the default
    assert TransferSettings(method="wct", alpha=1.0).alpha == 1.0


def test_painting_colors_default_to_the_measured_strength_of_each_method():
    # AdaIN's decoder paints hues the painting lacks: 0.7 of the way to its colours scored best (docs/transfer.md).
    assert TransferSettings(method="adain").painting_colors == 0.7
    assert TransferSettings(method="wct").painting_colors == 0
    assert TransferSettings(method="adain", original_colors=True).painting_colors == 0
    assert TransferSettings(method="adain", painting_colors=0.2).painting_colors == 0.2
