"""AdaIN's decoder objective: its terms are what Huang & Belongie define, and training on it moves the output's
statistics toward the style's."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from sample_images import smooth_image
from tiny_decoders import tiny_decoder

from stylejax.autoencoder.adain_objective import AdainTraining
from stylejax.autoencoder.reconstruction import decoder_step, encoder_weights, init_state
from stylejax.autoencoder.transforms import adain
from stylejax.nn.weights import load_vgg
from stylejax.runtime.meshes import local_mesh


def pairs(n=2, size=32):
    photos = [smooth_image(size, size, seed=i) for i in range(n)]
    styles = [np.clip(smooth_image(size, size, seed=10 + i)[..., ::-1] * 1.5 - 0.2, 0, 1) for i in range(n)]
    return jnp.asarray(np.stack([np.stack([p, s]) for p, s in zip(photos, styles, strict=True)]), jnp.float32)


def test_the_terms_are_the_content_error_to_the_adain_target_and_the_statistics_errors():
    vgg = load_vgg("vgg16", pooling="max")
    encoder_def, encoder = encoder_weights(vgg)
    decoder_def, params = nnx.split(tiny_decoder("relu2_1"), nnx.Param)
    objective = AdainTraining(encoder_def, decoder_def, "relu2_1", style_weight=3.0)
    batch = pairs()
    outputs, terms = objective.terms(params, encoder, batch)
    content, style = batch[:, 0], batch[:, 1]
    target = jax.vmap(adain)(vgg(content, ("relu2_1",))["relu2_1"], vgg(style, ("relu2_1",))["relu2_1"])
    np.testing.assert_allclose(outputs, nnx.merge(decoder_def, params)(target), atol=1e-6)
    again, want = vgg(outputs, ("relu1_1", "relu2_1")), vgg(style, ("relu1_1", "relu2_1"))
    np.testing.assert_allclose(terms["content"], jnp.mean(jnp.square(again["relu2_1"] - target), axis=(1, 2, 3)),
                               rtol=1e-5)

    def error(a, b):
        return (jnp.mean(jnp.square(a.mean((1, 2)) - b.mean((1, 2))), -1)
                + jnp.mean(jnp.square(jnp.sqrt(a.var((1, 2)) + 1e-5) - jnp.sqrt(b.var((1, 2)) + 1e-5)), -1))
    np.testing.assert_allclose(terms["style"], 3.0 * sum(error(again[k], want[k]) for k in again), rtol=1e-5)


def test_training_on_it_brings_the_outputs_statistics_toward_the_style():
    encoder_def, encoder = encoder_weights(load_vgg("vgg16", pooling="max"))
    decoder_def, params = nnx.split(tiny_decoder("relu1_1"), nnx.Param)
    objective = AdainTraining(encoder_def, decoder_def, "relu1_1")
    optimizer = optax.adam(3e-3)
    step = decoder_step(objective, optimizer, local_mesh(jax.devices()[:2]))
    state, batch = init_state(params, optimizer), pairs()
    first = {k: float(v) for k, v in objective.loss(state.params, encoder, batch)[1].items()}
    for _ in range(30):
        state, _ = step(state, batch, encoder)
    last = {k: float(v) for k, v in objective.loss(state.params, encoder, batch)[1].items()}
    assert last["style"] < 0.5 * first["style"], (first, last)
    assert last["content"] + last["style"] < first["content"] + first["style"]
