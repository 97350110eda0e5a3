"""Training over processes: each process's rows of a batch make the one-process batch; two CPU processes
train to the parameters of one process with as many devices."""

import dataclasses
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from ports import free_port
from sample_images import stripes

import stylejax
from stylejax.errors import StyleJaxError
from stylejax.network.data import TrainingImages, find_images
from stylejax.network.multihost import process_rows
from tests.network.test_train import SETTINGS


@pytest.mark.parametrize("processes", [1, 2, 4])
def test_the_processes_rows_concatenated_are_the_one_process_batch(photos, processes):
    data = TrainingImages(find_images(photos), 32, 4, seed=3)
    shares = [process_rows(4, i, processes) for i in range(processes)]
    assert [row for share in shares for row in share] == list(range(4))
    for step in (0, 5):
        np.testing.assert_array_equal(np.concatenate([data.batch(step, rows) for rows in shares]), data.batch(step))


def test_a_batch_that_does_not_split_over_the_processes_is_an_error():
    with pytest.raises(StyleJaxError, match="does not split over 3 processes"):
        process_rows(4, 0, 3)


def zero_gradient(path) -> bool:
    """A residual block's last shift: a per-channel constant on the residual stream that the next instance
    norm removes. Its gradient is 0 up to rounding, which Adam's m/sqrt(v) turns into steps of +-learning
    rate whose signs follow the all-reduce's order of summation (in-process here, Gloo's over processes)."""
    return "residuals" in jax.tree_util.keystr(path) and "'second']['norm']['shift']" in jax.tree_util.keystr(path)


@pytest.mark.slow
@pytest.mark.heavy
def test_two_processes_of_two_devices_train_what_one_process_of_four_does(photos, tmp_path):
    styles = [tmp_path / "stripes.png"]
    stylejax.save_image(stripes(48, 48), styles[0])
    # checkpoint_every=1: the two processes also write a checkpoint together (orbax's save is collective)
    # Adam at 1e-3 (the norms' rows at 1e-2): larger steps turn the float noise of the residual shifts' zero
    # gradients (`zero_gradient`) into sign flips that reach the other weights by step 2.
    s = dataclasses.replace(SETTINGS, steps=2, width=16, learning_rate=1e-3, style_layers=("relu1_1", "relu2_1"),
                            checkpoint_every=1, sample_every=0)
    one = stylejax.train_network(styles, photos, tmp_path / "one", s)  # this process: 4 devices (conftest)
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    flags = ["--style", str(styles[0]), "--images", str(photos), "-o", str(tmp_path / "two"), "--size", str(s.size),
             "--steps", str(s.steps), "--batch-size", str(s.batch_size), "--width", str(s.width),
             "--learning-rate", str(s.learning_rate), "--content-layers", ",".join(s.content_layers),
             "--style-layers", ",".join(s.style_layers), "--checkpoint-every", str(s.checkpoint_every),
             "--sample-every", str(s.sample_every), "--precision", s.precision,
             "--coordinator-address", address, "--num-processes", "2"]
    main = "import sys; from stylejax.cli import main; sys.exit(main(sys.argv[1:]))"
    runs = [subprocess.Popen([sys.executable, "-c", main, "train", *flags, "--process-id", str(i)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for i in range(2)]
    try:
        outputs = [run.communicate(timeout=300)[0] for run in runs]
    finally:
        for run in runs:
            run.kill()  # a process that lost its peer waits for JAX's coordinator for minutes
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["loss.png", "model.json", "params", "samples",
                                                                   "train.csv"]
    logs = [np.genfromtxt(folder / "train.csv", delimiter=",", names=True) for folder in (one, tmp_path / "two")]
    for name in ("total", "content", "style", "tv"):
        # Step 1 is the same batch through the same weights: equal to train.csv's 6 digits (the tiny TV term
        # gets an absolute floor). Later steps follow Adam updates of gradients summed in another order: Adam
        # turns float noise in near-zero gradients into +-rate steps, which moved step 2's loss by 6e-5 (2026-12-03).
        np.testing.assert_allclose(logs[1][name][0], logs[0][name][0], rtol=3e-5, atol=1e-6)
        np.testing.assert_allclose(logs[1][name], logs[0][name], rtol=5e-4, atol=1e-6)
    nets = [stylejax.load_network(folder) for folder in (one, tmp_path / "two")]
    for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(nets[0].params)[0], jax.tree.leaves(nets[1].params),
                            strict=True):
        if not zero_gradient(path):
            # within a noise-flipped Adam step or two of each other (the rate is 1e-3, the norms' 1e-2)
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=2e-2 if "norm" in str(path) else 2e-3,
                                       err_msg=str(path))
    images = stylejax.load_image(photos / "astronaut.png")
    np.testing.assert_allclose(np.asarray(nets[1](images)), np.asarray(nets[0](images)), atol=1e-2)
