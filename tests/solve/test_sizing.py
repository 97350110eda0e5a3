"""The memory check: a size that fits runs, remat or tiles when they make it fit, else one clear refusal."""

import jax.numpy as jnp
import numpy as np
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax import cli
from stylejax.io import images
from stylejax.objective import targets
from stylejax.optim import loop, optimizers
from stylejax.runtime import memory
from stylejax.solve import sizing, stylize

MiB = 2**20


def fake(limit, need_plain, need_remat=None):
    """A measure and a limit: the image needs `need_plain` bytes per million pixels, less with remat."""
    def measure(shape, remat):
        per_pixel = need_remat if remat and need_remat else need_plain
        return int(shape[0] * shape[1] * per_pixel)
    return measure, limit


@pytest.fixture()
def limit(monkeypatch):
    def set_limit(device, host=10**12):
        monkeypatch.setattr(memory, "available_bytes", lambda: device)
        monkeypatch.setattr(memory, "host_available_bytes", lambda: host)
    return set_limit


def test_a_size_that_fits_runs_as_configured(limit):
    limit(10**12)
    fit = sizing.fit(lambda shape, remat: 5 * MiB, (300, 400), stylejax.StyleConfig(size=400))
    assert (fit.remat, fit.tile, fit.need) == (False, None, 5 * MiB)


def test_remat_is_used_when_it_is_what_makes_the_size_fit(limit):
    limit(1000 * MiB)
    lines = []
    measure = lambda shape, remat: (800 if remat else 1200) * MiB  # noqa: E731
    fit = sizing.fit(measure, (1000, 1500), stylejax.StyleConfig(size=1500), log=lines.append)
    assert fit.remat and fit.tile is None
    assert lines == ["1500x1000 needs 800 MiB of 1000 MiB available (with remat)"]
    with pytest.raises(stylejax.StyleJaxError, match="needs 1.2 GiB but 1000 MiB is available: use `remat`, `tile`"):
        sizing.fit(measure, (1000, 1500), stylejax.StyleConfig(size=1500, remat=False))


def test_tile_auto_picks_the_largest_tile_that_fits(limit):
    limit(300 * MiB)
    measure = lambda shape, remat: shape[0] * shape[1] * 1000  # noqa: E731  1000 B per pixel
    fit = sizing.fit(measure, (2000, 3000), stylejax.StyleConfig(size=3000, tile="auto"))
    assert fit.tile == 512 and fit.need == 512 * 512 * 1000  # 768 px tiles would need 562 MiB
    with pytest.raises(stylejax.StyleJaxError, match="use `tile` 'auto' or a smaller `size`"):
        sizing.fit(measure, (2000, 3000), stylejax.StyleConfig(size=3000))


def test_a_tile_that_does_not_fit_is_refused(limit):
    limit(100 * MiB)
    with pytest.raises(stylejax.StyleJaxError, match="a 1024 px tile needs .* use a smaller `tile`"):
        sizing.fit(lambda shape, remat: shape[0] * shape[1] * 1000, (2000, 3000),
                   stylejax.StyleConfig(size=3000, tile=1024))


def test_an_absurd_size_is_refused_before_anything_compiles(limit):
    limit(20 * 2**30, host=24 * 2**30)

    def measure(shape, remat):
        raise AssertionError("nothing may compile for an absurd size")

    for tile in (None, "auto", 512):
        with pytest.raises(stylejax.StyleJaxError, match="too large: its images alone need"):
            sizing.fit(measure, (66667, 100000), stylejax.StyleConfig(size=100000, tile=tile))


@pytest.mark.slow
def test_stylize_refuses_a_size_that_cannot_fit_and_tiles_it_with_auto(limit):
    content, style = smooth_image(96, 128), stripes(48, 48)
    config = dict(size=256, min_size=256, steps=2, optimizer="adam", chunk_steps=2)
    need = stylize.memory_needed([style], stylejax.StyleConfig(**config), (192, 256))
    limit(need - 1)  # the whole 256 px image just does not fit; 128 px tiles do
    with pytest.raises(stylejax.StyleJaxError, match="needs .* available: use `remat`, `tile` 'auto'"):
        stylejax.stylize(content, style, **config, remat=False)
    result = stylejax.stylize(content, style, **config, tile="auto", remat=False)
    assert result.tile is not None and result.tile < 256 and result.image.shape == (192, 256, 3)


@pytest.mark.parametrize("flags, message", [
    (["--size", "100000"], "is too large: its images alone need"),
    (["--tile", "0"], "tile must be 'auto' or a whole number of pixels >= 128"),
    (["--size", "256", "--tile", "512"], "a tile of 512 px is not smaller than the size (256 px)"),
    (["--tile", "wide"], "--tile takes a number of pixels or 'auto'"),
    (["--size", "256", "--min-size", "300"], "min_size must be a whole number of pixels from 32 to size (256)"),
    (["--steps", "10,x"], "--steps takes a whole number"),
    (["--ema-decay", "1"], "ema_decay must be in [0, 1)"),
    (["--bit-depth", "16", "-o", "out.jpg"], "16-bit"),
])
def test_print_size_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, monkeypatch, flags, message):
    monkeypatch.chdir(tmp_path)
    images.save_image(smooth_image(60, 80), tmp_path / "content.png")
    images.save_image(stripes(48, 48), tmp_path / "style.png")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["stylize", "content.png", "style.png", "-o", "out.png", "--size", "64", "--steps", "2", *flags]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("stylejax: error:") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.slow
def test_16_bit_output_through_the_cli(tmp_path, capsys):
    images.save_image(smooth_image(60, 80), tmp_path / "content.png")
    images.save_image(stripes(48, 48), tmp_path / "style.png")
    out = tmp_path / "out.png"
    code = cli.main(["stylize", str(tmp_path / "content.png"), str(tmp_path / "style.png"), "-o", str(out),
                     "--size", "64", "--steps", "2", "--optimizer", "adam", "--bit-depth", "16"])
    assert code == 0, capsys.readouterr().err
    levels = np.unique(images.load_image(out))
    assert len(levels) > 256 and np.any(np.abs(levels * 255 - np.round(levels * 255)) > 1e-3)  # not 8-bit values


@pytest.mark.slow
def test_the_memory_check_compiles_nothing_the_run_does_not_reuse(compiles):
    content, style = smooth_image(52, 60, seed=9), stripes(48, 48)  # a shape no other test uses
    with compiles() as compiled:
        stylejax.stylize(content, style, size=60, steps=2, optimizer="adam", chunk_steps=2)
    assert compiled.count("jit(run)") == 1, compiled  # the check's compile is the run's program


def test_lower_bound_grows_with_pixels_and_never_overflows():
    small, wide = sizing.lower_bound_bytes((64, 64)), sizing.lower_bound_bytes((64, 128))
    assert 0 < small < wide and wide == 2 * small
    huge = sizing.lower_bound_bytes((66_667, 100_000))  # --size 100000
    assert isinstance(huge, int) and huge > 2**40
    assert memory.describe(huge).endswith("TiB")


def test_lower_bound_is_below_what_a_real_step_needs(vgg16):
    shape = (64, 64)
    config = stylejax.StyleConfig(size=64, optimizer="adam")
    objective, args, content = targets.prepare(vgg16, smooth_image(*shape), [stripes(48, 48)], config)
    optimizer = optimizers.make_optimizer("adam")
    state = loop.init_state_jit(objective, optimizer, content, args)
    compiled = loop.run_steps_jit.lower(objective, optimizer, state, jnp.int32(1), args, 1).compile()
    analysis = compiled.memory_analysis()
    bound = sizing.lower_bound_bytes(shape)
    print(f"64 px step: bound {memory.describe(bound)}, XLA {memory.describe(memory.compiled_bytes(compiled))}")
    # Also below what is not weights: the bound counts pixels and activations, which live there.
    assert bound < analysis.temp_size_in_bytes + analysis.output_size_in_bytes
    assert bound < memory.compiled_bytes(compiled)
