"""`stylejax export`: ONNX by the output's suffix, run by onnxruntime and equal to the network; `--transfer`: the
one-pass transfer with the painting and alpha as inputs, at any size, equal to `OnePassTransfer.run`; bad flags
and outputs exit 2."""

import jax
import numpy as np
import pytest
from sample_images import smooth_image, stripes
from style_networks import random_network
from tiny_decoders import decoder_folder

import stylejax
from stylejax.cli.app import main
from stylejax.network.model_dir import save_model

# One worker for the ONNX tests: jax2onnx takes ~9 s to import in each process that converts.
pytestmark = pytest.mark.xdist_group("onnx")

# onnxruntime against the JAX network, random_network(8, 2): 8e-6 to 1.3e-5 measured (2026-12-03, CPU).
ONNX_TOLERANCE = 5e-5


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Read only: the module's tests share it."""
    folder = tmp_path_factory.mktemp("model")
    save_model(folder, random_network(8, 2, seed=1), {"styles": [{"name": "a.png"}, {"name": "b.png"}]})
    return folder


@pytest.fixture(scope="module")
def decoders(tmp_path_factory, weights_cache):
    """Tiny random decoders at relu1_1 to relu3_1 (a stride of 4); read only."""
    return decoder_folder(tmp_path_factory.mktemp("decoders"), ("relu1_1", "relu2_1", "relu3_1"))


# Photos (b, h, w) and paintings (h', w') of two sizes each: every one of them symbolic.
TRANSFER_SIZES = [((2, 16, 24), (20, 13)), ((1, 12, 8), (9, 16))]


def transfer_inputs(photos, painting):
    return (np.stack([smooth_image(*photos[1:], seed=i) for i in range(photos[0])]),
            np.asarray(smooth_image(*painting, seed=9) * 0.5 + stripes(*painting) * 0.5, np.float32))


def transfer_reference(decoders, photos, painting, alpha, sqrt, levels=None, method="wct"):
    transfer = stylejax.load_transfer(decoders)
    settings = stylejax.TransferSettings(method=method, sqrt=sqrt, levels=levels)
    return np.stack([transfer.run(photo, [painting], settings, alpha=alpha) for photo in photos])


@pytest.mark.slow
@pytest.mark.parametrize(("method", "described"), [("wct", "wct by eigh"),
                                                   ("adain", "adain, painting colours 0.7 by eigh")])
def test_the_transfer_exported_runs_without_stylejax_at_any_size_with_any_painting(decoders, tmp_path, capsys, method,
                                                                                   described):
    import jax.numpy as jnp

    out = tmp_path / "transfer.jaxexport"
    assert main(["export", "--transfer", "--decoders", str(decoders), "-o", str(out), "--method", method]) == 0
    assert f"(jax.export, {described}): photos (b, h, w, 3)" in (err := capsys.readouterr().err)
    assert "multiples of 4 (>= 8)" in err
    exported = jax.export.deserialize(bytearray(out.read_bytes()))
    for (photos, painting), alpha in zip(TRANSFER_SIZES, (1.0, 0.6), strict=True):
        photos, painting = transfer_inputs(photos, painting)
        got = exported.call(jnp.asarray(photos), jnp.asarray(painting), jnp.float32(alpha))
        # The plain layers against the sub-pixel ones, and XLA's fusions: float rounding.
        np.testing.assert_allclose(got, transfer_reference(decoders, photos, painting, alpha, "eigh", method=method),
                                   atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "levels", "described"), [
    # jax2onnx 0.12 converts the deepest level and relu1_1, not relu2_1 after relu3_1 (refused below).
    ("wct", ("relu3_1", "relu1_1"), "wct by newton_schulz"),
    ("adain", ("relu3_1",), "adain, painting colours 0.7 by newton_schulz"),
])
def test_the_transfer_as_onnx_runs_in_onnxruntime_by_newton_schulz(decoders, tmp_path, capsys, method, levels,
                                                                   described):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "transfer.onnx"
    assert main(["export", "--transfer", "--decoders", str(decoders), "-o", str(out), "--method", method,
                 "--levels", ",".join(levels)]) == 0
    assert f"(ONNX, {described})" in capsys.readouterr().err
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    for (photos, painting), alpha in zip(TRANSFER_SIZES, (1.0, 0.6), strict=True):
        photos, painting = transfer_inputs(photos, painting)
        (got,) = session.run(["stylized"], {"photos": photos, "painting": painting,
                                            "alpha": np.array(alpha, np.float32)})
        reference = transfer_reference(decoders, photos, painting, alpha, "newton_schulz", levels, method)
        np.testing.assert_allclose(got, reference, atol=ONNX_TOLERANCE)


@pytest.mark.parametrize("argv, message", [
    ([], "give the NETWORK folder to export, or --transfer"),
    (["MODEL", "--transfer"], "give one"),
    (["--transfer", "--network-style", "1"], "drop them with --transfer"),
    (["MODEL", "--method", "wct"], "--method only applies with --transfer"),
    (["MODEL", "--decoders", "DECODERS", "--sqrt", "eigh"], "--sqrt, --decoders only apply with --transfer"),
    (["--transfer", "--decoders", "NOWHERE"], "not a decoders folder"),
    (["--transfer", "--decoders", "DECODERS", "--sqrt", "eigh", "-o", "ONNX"], "--sqrt 'eigh' cannot go to ONNX"),
    (["--transfer", "--decoders", "DECODERS", "--method", "wct", "-o", "ONNX"],
     "--levels relu3_1,relu2_1,relu1_1 cannot go to ONNX"),
    (["--transfer", "--decoders", "DECODERS", "--levels", "relu4_1"], "--levels: no decoder for relu4_1"),
])
def test_bad_export_flags_are_one_line_exit_2_nothing_written(model, decoders, tmp_path, capsys, argv, message):
    names = {"MODEL": str(model), "DECODERS": str(decoders), "NOWHERE": str(tmp_path / "nowhere"),
             "ONNX": str(tmp_path / "t.onnx")}
    argv = [names.get(a, a) for a in argv]
    assert main(["export", "-o", str(tmp_path / "t.jaxexport"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_onnx_export_runs_in_onnxruntime_and_matches_the_network(model, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    assert main(["export", str(model), "-o", str(tmp_path / "net.onnx"), "--network-style-mix", "0.3,0.7"]) == 0
    assert "(ONNX)" in capsys.readouterr().err
    options = ort.SessionOptions()
    options.log_severity_level = 3  # jax2onnx leaves a few unused constants, which onnxruntime warns about
    session = ort.InferenceSession(str(tmp_path / "net.onnx"), options, providers=["CPUExecutionProvider"])
    net = stylejax.load_network(model)
    for shape in [(1, 32, 44), (3, 16, 24), (2, 12, 12)]:  # symbolic batch, height and width
        x = np.random.default_rng(0).uniform(size=(*shape, 3)).astype(np.float32)
        (out,) = session.run(["stylized"], {"images": x})
        np.testing.assert_allclose(out, net(x, [0.3, 0.7]), atol=ONNX_TOLERANCE)


@pytest.mark.parametrize("output", ["missing/net.onnx", "missing/net.jaxexport", "."])
def test_an_output_that_cannot_be_written_is_one_line_exit_2_nothing_written(model, tmp_path, capsys, output):
    before = sorted(tmp_path.rglob("*"))
    assert main(["export", str(model), "-o", str(tmp_path / output)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.slow
def test_export_runs_without_stylejax_and_matches_the_network(model, tmp_path):
    import jax
    import jax.numpy as jnp

    assert main(["export", str(model), "-o", str(tmp_path / "net.jaxexport"), "--network-style-mix", "0.3,0.7"]) == 0
    exported = jax.export.deserialize(bytearray((tmp_path / "net.jaxexport").read_bytes()))
    net = stylejax.load_network(model)
    for shape in [(1, 32, 44), (3, 16, 24)]:  # symbolic batch, height and width
        x = jnp.asarray(np.random.default_rng(0).uniform(size=(*shape, 3)), jnp.float32)
        np.testing.assert_allclose(exported.call(x), net(x, [0.3, 0.7]), atol=1e-5)
