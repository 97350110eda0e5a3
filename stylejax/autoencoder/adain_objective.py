"""AdaIN's own decoder objective (Huang & Belongie 2017): the decoder learns to paint the AdaIN target.

A decoder trained for reconstruction (`reconstruction.Reconstruction`, WCT's objective) inverts the
encoder on photos; fed AdaIN's target (the photo's features at the level moved to a style's channel means
and standard deviations) it returns a blurred, greyed version of them: the statistics are lost on the way
back to pixels. Huang & Belongie train the decoder on the transfer itself: a content loss (the output's
features at the level against the AdaIN target) plus a style loss (the output's per-channel mean and
standard deviation at relu1_1 up to the level against the style image's). Started from a reconstruction
decoder (as irasin/Pytorch_AdaIN#2 advises: from a random one the outputs go grey), it keeps the photo's
structure and learns to carry the statistics into pixels.

Trained on pairs (content, style) of photos; no painting is needed: the style loss asks for whatever
statistics the style image has. Same step as reconstruction (`reconstruction.decoder_step`); pure, no files.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from stylejax.autoencoder.reconstruction import EncoderWeights
from stylejax.autoencoder.transforms import adain, adain_statistics
from stylejax.nn.decoders import LEVELS

DEFAULT_STYLE_WEIGHT = 10.0  # Huang & Belongie's (and pytorch-AdaIN's) lambda
# Added to the variance before its square root, as AdaIN's own statistics do (a channel that is zero over a
# crop has no gradient through sqrt(0)).
_EPS = 1e-5


@dataclasses.dataclass(frozen=True)
class AdainTraining:
    """A decoder's AdaIN objective; hashable, so it can be a static jit argument.

    Attributes:
      encoder: the VGG's structure (`nnx.GraphDef`; its weights are `EncoderWeights`).
      decoder: the decoder's structure (`nnx.GraphDef`; its parameters are the state's).
      level: the layer the decoder reads and AdaIN works at, e.g. "relu4_1".
      style_weight: weight of the style loss against the content loss.
    """

    encoder: nnx.GraphDef
    decoder: nnx.GraphDef
    level: str
    style_weight: float = DEFAULT_STYLE_WEIGHT

    @property
    def style_layers(self) -> tuple[str, ...]:
        """relu1_1 up to the decoder's level: where the style loss compares statistics."""
        return LEVELS[: LEVELS.index(self.level) + 1]

    def terms(self, params: nnx.State, encoder: EncoderWeights, pairs: jax.Array
              ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The decoder's outputs for pairs (b, 2, h, w, 3) in [0, 1] (each a photo and a style image) and their
        weighted loss terms.

        Returns:
          (outputs (b, h', w', 3), {"content": (b,), "style": (b,)}) in f32; h', w' are h, w cut to a
          multiple of the level's stride.
        """
        vgg = nnx.merge(self.encoder, encoder.state)
        decoder = nnx.merge(self.decoder, params)
        stride = decoder.scale
        pairs = pairs[:, :, : pairs.shape[2] // stride * stride, : pairs.shape[3] // stride * stride]
        content, style = pairs[:, 0], pairs[:, 1]
        # The target and the style's statistics are constants of the step.
        style_features = jax.lax.stop_gradient(vgg(style, self.style_layers))
        target = jax.lax.stop_gradient(
            jax.vmap(adain)(vgg(content, (self.level,))[self.level], style_features[self.level]))
        outputs = decoder(target)
        again = vgg(outputs, self.style_layers, encoder.backward_kernels)
        style_loss = sum(_statistics_error(again[layer], style_features[layer]) for layer in self.style_layers)
        return outputs, {
            "content": jnp.mean(jnp.square(again[self.level] - target), axis=(1, 2, 3)),
            "style": self.style_weight * style_loss,
        }

    def loss(self, params: nnx.State, encoder: EncoderWeights, pairs: jax.Array
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The mean over the batch of the summed terms, and each term's mean: what a step differentiates."""
        _, terms = self.terms(params, encoder, pairs)
        means = {name: jnp.mean(term) for name, term in terms.items()}
        return sum(means.values()), means


def _statistics_error(features: jax.Array, style: jax.Array) -> jax.Array:
    """(b,) mean squared differences of the per-channel means plus those of the standard deviations of
    (b, h, w, c) features: AdaIN's own statistics (`adain_statistics`, the mean and the variance)."""
    ours, theirs = jax.vmap(adain_statistics)(features), jax.vmap(adain_statistics)(style)
    spread = jnp.sqrt(ours.spread + _EPS) - jnp.sqrt(theirs.spread + _EPS)
    return jnp.mean(jnp.square(ours.mean - theirs.mean), axis=-1) + jnp.mean(jnp.square(spread), axis=-1)
