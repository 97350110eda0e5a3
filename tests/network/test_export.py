"""`stylejax export`: ONNX by the output's suffix, run by onnxruntime and equal to the network; bad outputs exit 2."""

import numpy as np
import pytest
from style_networks import random_network

import stylejax
from stylejax.cli.app import main
from stylejax.network.model_dir import save_model

# onnxruntime against the JAX network, random_network(8, 2): 8e-6 to 1.3e-5 measured (2026-12-03, CPU).
ONNX_TOLERANCE = 5e-5


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Read only: the module's tests share it."""
    folder = tmp_path_factory.mktemp("model")
    save_model(folder, random_network(8, 2, seed=1), {"styles": [{"name": "a.png"}, {"name": "b.png"}]})
    return folder


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
