"""One compiled training step of a style network on the Gatys objective, data-parallel over a mesh.

The network's outputs are scored by the same `Objective` as `stylize` (VGG, layers, Gram targets, loss
terms), per image under `vmap`. The content targets are VGG features of the inputs, computed without a
gradient; the gradient reaches the pixels through VGG's fast image gradient (`backward_kernels`) and
then the network's weights. Pure and jit-able: nothing here touches files.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from stylejax.nn.style_network import one_hot_styles
from stylejax.objective.gatys import Objective, ObjectiveArgs


class TrainState(NamedTuple):
    """What a training step carries: the network's parameters, Adam's state and the step count."""

    params: nnx.State
    opt_state: optax.OptState
    step: jax.Array


def batch_terms(objective: Objective, network: nnx.GraphDef, params: nnx.State, images: jax.Array,
                style_ids: jax.Array, args: ObjectiveArgs) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The network's outputs for images (b, h, w, 3) in styles (b,) and their loss terms {name: (b,)}.

    `args.targets.style` holds one Gram target per style, {layer: (num_styles, c, c)}.
    """
    net = nnx.merge(network, params)
    outputs = net(images, one_hot_styles(style_ids, net.num_styles))
    return outputs, output_terms(objective, outputs, images, style_ids, args)


def output_terms(objective: Objective, outputs: jax.Array, images: jax.Array, style_ids: jax.Array,
                 args: ObjectiveArgs) -> dict[str, jax.Array]:
    """The loss terms {name: (b,)} of outputs (b, h, w, 3) for their inputs `images` in styles (b,): the
    training objective's half after the network."""
    vgg = nnx.merge(objective.graphdef, args.vgg)
    # Content targets are constants of the step: no gradient flows into them.
    content = jax.lax.stop_gradient(vgg(images, objective.content_layers))

    def one_image(output, content_row, style_id):
        targets = args.targets._replace(content={n: f[None] for n, f in content_row.items()},
                                        style={n: g[style_id] for n, g in args.targets.style.items()})
        return objective.terms(output, args._replace(targets=targets))

    return jax.vmap(one_image)(outputs, content, style_ids)


def _mean_loss(params, network, objective, images, style_ids, args):
    _, terms = batch_terms(objective, network, params, images, style_ids, args)
    return sum(jnp.mean(t) for t in terms.values()), {n: jnp.mean(t) for n, t in terms.items()}


@functools.lru_cache(maxsize=8)
def train_step(objective: Objective, network: nnx.GraphDef, optimizer: optax.GradientTransformation,
               mesh: Mesh):
    """The compiled step `(state, images, style_ids, args) -> (state, {term: mean over the batch})`.

    The batch (b, h, w, 3) and its style indices (b,) are split over the mesh's "data" axis (b a multiple
    of its size); each device differentiates the mean loss of its share and the gradients are averaged
    (`pmean`), so every device applies the same Adam update to its replica of the parameters. The
    state is donated.
    """

    def on_device(state: TrainState, images, style_ids, args):
        grad_fn = jax.value_and_grad(_mean_loss, has_aux=True)
        (_, terms), grads = grad_fn(state.params, network, objective, images, style_ids, args)
        grads = jax.lax.pmean(grads, "data")
        terms = jax.lax.pmean(terms, "data")
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return TrainState(optax.apply_updates(state.params, updates), opt_state, state.step + 1), terms

    sharded = jax.shard_map(on_device, mesh=mesh, in_specs=(P(), P("data"), P("data"), P()),
                            out_specs=(P(), P()), check_vma=False)
    return jax.jit(sharded, donate_argnums=0)


# The conditional instance norms' scale and shift rows learn at this multiple of Adam's rate: each style
# owns only its rows, and Adam moves a parameter by about its rate a step whatever the gradient. Measured
# over 100 steps (docs/network.md): at 1x a 4-style network's outputs stay near-identical (losses 1.05-1.20x
# four 1-style networks'), at 10x they differ as their paintings do (0.97-1.05x); 1-style networks train
# as well or better at 10x.
NORM_RATE_MULTIPLIER = 10.0


def _rate_label(path) -> str:
    """Which Adam the parameter at `path` learns with: "norm" (a norm's style rows) or "rest"."""
    return "norm" if "norm" in jax.tree_util.keystr(path) else "rest"


@functools.lru_cache(maxsize=8)
def network_optimizer(learning_rate: float) -> optax.GradientTransformation:
    """Adam at `learning_rate`, and at NORM_RATE_MULTIPLIER times it for the norms' rows; one object per
    rate (the compiled step is cached by it)."""
    return optax.multi_transform(
        {"norm": optax.adam(learning_rate * NORM_RATE_MULTIPLIER), "rest": optax.adam(learning_rate)},
        lambda params: jax.tree_util.tree_map_with_path(lambda path, _: _rate_label(path), params))


def init_state(params: nnx.State, optimizer: optax.GradientTransformation) -> TrainState:
    """Step 0: the parameters, a fresh optimizer state."""
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))
