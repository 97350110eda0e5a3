"""Where a style network's training step spends its time, in stylejax (compiled) and in PyTorch eager.

Each part of the step timed alone on the same batch, the two frameworks in turns (benchmarks/turns.py):
the network's forward; the network's forward and parameter gradient (of a fixed random projection of its
outputs, so the loss costs nothing); the loss after the network (VGG on the outputs and, without
gradient, on the inputs, Gram and content terms, total variation) and its gradient to the outputs; and
the whole gradient (network and loss, no optimizer). Used by `benchmarks/network.py torch --parts`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import torch
from flax import nnx
from torch_network import TorchTrainer, as_nchw
from turns import median_in_turns

from stylejax.network.step import batch_terms, output_terms
from stylejax.nn.style_network import one_hot_styles

PARTS = ("network forward", "network forward + gradient", "loss + gradient to the outputs",
         "whole gradient (no Adam)")


def _mean_total(terms: dict[str, jax.Array]) -> jax.Array:
    return sum(jnp.mean(t) for t in terms.values())


def _jax_parts(objective, objective_args, graphdef, params, images):
    """{part: a call that runs it once and waits}, the step's own functions compiled (every array an
    argument: a constant would be folded at compile time)."""
    ids = jnp.zeros((images.shape[0],), jnp.int32)
    projection = jnp.asarray(np.random.default_rng(0).standard_normal(images.shape, np.float32))

    def outputs(p, x):
        net = nnx.merge(graphdef, p)
        return net(x, one_hot_styles(ids, net.num_styles))

    def loss(out, x, a):
        return _mean_total(output_terms(objective, out, x, ids, a))

    def whole(p, x, a):
        return _mean_total(batch_terms(objective, graphdef, p, x, ids, a)[1])

    forward = jax.jit(outputs)
    network_grad = jax.jit(jax.grad(lambda p, x, r: jnp.sum(outputs(p, x) * r)))
    loss_grad, whole_grad = jax.jit(jax.grad(loss)), jax.jit(jax.grad(whole))
    return dict(zip(PARTS, (lambda: jax.block_until_ready(forward(params, images)),
                            lambda: jax.block_until_ready(network_grad(params, images, projection)),
                            lambda: jax.block_until_ready(loss_grad(images, images, objective_args)),
                            lambda: jax.block_until_ready(whole_grad(params, images, objective_args))),
                    strict=True))


def _torch_parts(trainer: TorchTrainer, batch: np.ndarray):
    x = as_nchw(batch)
    projection = torch.from_numpy(np.random.default_rng(0).standard_normal(x.shape).astype(np.float32))

    def forward():
        with torch.no_grad():
            trainer.net(x)

    def network_grad():
        trainer.net.zero_grad()
        torch.sum(trainer.net(x) * projection).backward()

    def loss_grad():
        out = x.clone().requires_grad_(True)
        trainer.loss(x, out).backward()

    def whole():
        trainer.net.zero_grad()
        trainer.loss(x, trainer.net(x)).backward()

    return dict(zip(PARTS, (forward, network_grad, loss_grad, whole), strict=True))


def step_parts(objective, objective_args, graphdef, params, trainer: TorchTrainer, batch: np.ndarray,
               repeats: int) -> dict[str, tuple[float, float]]:
    """{part: (stylejax s, PyTorch s)}, medians of `repeats`, timed in turns (benchmarks/turns.py)."""
    ours = _jax_parts(objective, objective_args, graphdef, params, jnp.asarray(batch))
    theirs = _torch_parts(trainer, batch)
    return {part: tuple(median_in_turns({"stylejax": ours[part], "torch": theirs[part]}, repeats).values())
            for part in PARTS}
