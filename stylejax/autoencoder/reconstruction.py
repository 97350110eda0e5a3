"""Training a decoder to invert the encoder at its level: one compiled step, data-parallel over a mesh.

The objective is WCT's (Li et al. 2017): the decoder's output against the photo in pixels, plus its
features at the decoder's level against the photo's, mean squared errors with weight 1 each by default.
No style images: a decoder trained on photos serves every painting. The step (`decoder_step`, which
AdaIN's objective in `adain_objective` shares) follows `stylejax.network.step`'s shape (a pure step over a
NamedTuple state, `shard_map` over the mesh's "data" axis, gradients averaged with `pmean`, optax, the
state donated) but lives here, below `network`, because its objective is not the Gatys one and `solve`
and the one-pass transfer may need it. Pure: no files.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from stylejax.nn.vgg import VGG

# The encoder pools as VGG was trained (max), as WCT's and AdaIN's do: the decoders learn to invert it, so
# the transfer must encode with the same pooling.
ENCODER_POOLING = "max"


class EncoderWeights(NamedTuple):
    """The frozen encoder's arrays, passed to the step as arguments (never baked into the program).

    Attributes:
      state: the VGG's weights (the `nnx.State` half of the model).
      backward_kernels: `VGG.backward_kernels()`, for the fast gradient through the feature loss.
    """

    state: nnx.State
    backward_kernels: tuple[jax.Array, ...]


@dataclasses.dataclass(frozen=True)
class Reconstruction:
    """A decoder's reconstruction objective; hashable, so it can be a static jit argument.

    Attributes:
      encoder: the VGG's structure (`nnx.GraphDef`; its weights are `EncoderWeights`).
      decoder: the decoder's structure (`nnx.GraphDef`; its parameters are the state's).
      level: the layer the decoder reads, e.g. "relu4_1".
      pixel_weight: weight of the mean squared pixel error.
      feature_weight: weight of the mean squared error of the output's features at `level`.
    """

    encoder: nnx.GraphDef
    decoder: nnx.GraphDef
    level: str
    pixel_weight: float = 1.0
    feature_weight: float = 1.0

    def terms(self, params: nnx.State, encoder: EncoderWeights, images: jax.Array
              ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The decoder's reconstructions of images (b, h, w, 3) in [0, 1] and their weighted loss terms.

        Each side is first cut to a multiple of the level's stride (2 ** (block - 1)), the part the
        encoder's poolings see whole.

        Returns:
          (reconstructions (b, h', w', 3), {"pixel": (b,), "feature": (b,)}) in f32.
        """
        vgg = nnx.merge(self.encoder, encoder.state)
        decoder = nnx.merge(self.decoder, params)
        stride = decoder.scale
        images = images[:, : images.shape[1] // stride * stride, : images.shape[2] // stride * stride]
        # The features are the decoder's input and its target: constants of the step.
        features = jax.lax.stop_gradient(vgg(images, (self.level,))[self.level])
        outputs = decoder(features)
        again = vgg(outputs, (self.level,), encoder.backward_kernels)[self.level]
        per_image = (1, 2, 3)
        return outputs, {
            "pixel": self.pixel_weight * jnp.mean(jnp.square(outputs - images), axis=per_image),
            "feature": self.feature_weight * jnp.mean(jnp.square(again - features), axis=per_image),
        }

    def loss(self, params: nnx.State, encoder: EncoderWeights, images: jax.Array
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The mean over the batch of the summed terms, and each term's mean: what a step differentiates."""
        _, terms = self.terms(params, encoder, images)
        means = {name: jnp.mean(term) for name, term in terms.items()}
        return sum(means.values()), means


class DecoderState(NamedTuple):
    """What a step carries: the decoder's parameters, the optimizer's state and the step count."""

    params: nnx.State
    opt_state: optax.OptState
    step: jax.Array


def encoder_weights(vgg: VGG) -> tuple[nnx.GraphDef, EncoderWeights]:
    """A VGG (load it with `pooling=ENCODER_POOLING`) as the structure and the arrays a step takes."""
    graphdef, state = nnx.split(vgg)
    return graphdef, EncoderWeights(state, vgg.backward_kernels())


def init_state(params: nnx.State, optimizer: optax.GradientTransformation) -> DecoderState:
    """Step 0: the decoder's parameters (`nnx.split(decoder, nnx.Param)[1]`), a fresh optimizer state."""
    return DecoderState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


@functools.lru_cache(maxsize=8)
def decoder_optimizer(learning_rate: float = 1e-3, decay: float = 1e-3) -> optax.GradientTransformation:
    """Adam at learning_rate / (1 + decay * step) (AdaIN's inverse decay): a function of the step alone, so a
    finished training continues with more steps. One object per setting, as the compiled step is cached by it."""
    return optax.adam(lambda step: learning_rate / (1.0 + decay * step))


@functools.lru_cache(maxsize=8)
def decoder_step(objective, optimizer: optax.GradientTransformation, mesh: Mesh):
    """The compiled step `(state, batch, encoder) -> (state, {term: mean over the batch})` of a decoder objective
    (`Reconstruction`, or `adain_objective.AdainTraining`: anything hashable with `loss(params, encoder, batch)`).

    The batch (b, ...) in [0, 1] (images for reconstruction, (photo, style) pairs for AdaIN) is split over
    the mesh's "data" axis (b a multiple of its size); each device differentiates its share's mean loss,
    the gradients are averaged (`pmean`), and every device applies the same update to its replica of the
    parameters. The state is donated.
    """

    def on_device(state: DecoderState, batch: jax.Array, encoder: EncoderWeights):
        (_, terms), grads = jax.value_and_grad(objective.loss, has_aux=True)(state.params, encoder, batch)
        grads = jax.lax.pmean(grads, "data")
        terms = jax.lax.pmean(terms, "data")
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return DecoderState(optax.apply_updates(state.params, updates), opt_state, state.step + 1), terms

    sharded = jax.shard_map(on_device, mesh=mesh, in_specs=(P(), P("data"), P()), out_specs=(P(), P()),
                            check_vma=False)
    return jax.jit(sharded, donate_argnums=0)


def psnr(reconstructions: jax.Array, images: jax.Array) -> jax.Array:
    """Peak signal-to-noise ratio in dB of (b, h, w, 3) reconstructions, clipped to [0, 1], against the
    images (cut to their size): (b,)."""
    h, w = reconstructions.shape[1:3]
    error = jnp.mean(jnp.square(jnp.clip(reconstructions, 0.0, 1.0) - images[:, :h, :w]), axis=(1, 2, 3))
    return -10.0 * jnp.log10(jnp.maximum(error, 1e-10))
