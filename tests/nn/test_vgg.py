import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import stylejax
from stylejax.nn.vgg import VGG, layer_names


def _numpy_vgg(image: np.ndarray, vgg: VGG) -> dict[str, np.ndarray]:
    """An independent float64 NumPy VGG: 3x3 'same' convolutions as nine shifted matmuls."""
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    x = (image.astype(np.float64) - mean) / std
    out = {}
    for name, conv in zip(layer_names(vgg.arch), vgg.convs, strict=True):
        if name.endswith("_1") and name != "relu1_1":
            h, w, c = x.shape
            x = x[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2, c).mean(axis=(1, 3))
        kernel = np.asarray(conv.kernel[...], np.float64)
        padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
        h, w, _ = x.shape
        y = sum(padded[dy:dy + h, dx:dx + w] @ kernel[dy, dx] for dy in range(3) for dx in range(3))
        x = np.maximum(y + np.asarray(conv.bias[...], np.float64), 0)
        out[name] = x
    return out


def test_every_relu_matches_a_numpy_reference(vgg16):
    from sample_images import smooth_image

    image = smooth_image(32, 40)
    names = layer_names("vgg16")
    got = vgg16.features(image[None], layers=names)
    want = _numpy_vgg(image, vgg16)
    assert list(got) == names
    for name in names:
        ref = want[name]
        np.testing.assert_allclose(np.asarray(got[name][0]), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max(),
                                   err_msg=name)


def test_computes_only_up_to_the_deepest_requested_layer(vgg16):
    from sample_images import smooth_image

    image = jnp.asarray(smooth_image(32, 32))[None]
    graphdef, state = nnx.split(vgg16)
    jaxpr = jax.make_jaxpr(lambda x: nnx.merge(graphdef, state)(x, ["relu2_1"]))(image)
    assert str(jaxpr).count("conv_general_dilated") == 3  # conv1_1, conv1_2, conv2_1
    assert set(vgg16.features(image, ["relu2_1", "relu1_1"])) == {"relu1_1", "relu2_1"}


def test_unknown_layer_is_a_clear_error(vgg16):
    with pytest.raises(stylejax.StyleJaxError, match="unknown layer 'relu5_4' for vgg16"):
        vgg16.features(np.zeros((1, 32, 32, 3), np.float32), ["relu5_4"])


@pytest.mark.slow
def test_image_gradient_with_backward_kernels_matches_autodiff(vgg16):
    from sample_images import smooth_image

    image = jnp.asarray(smooth_image(32, 32))[None]
    layers = ["relu1_1", "relu3_1", "relu5_1"]
    backward = vgg16.backward_kernels()

    graphdef, state = nnx.split(vgg16)

    def loss(x, state, kernels):
        return sum(jnp.mean(f ** 2) for f in nnx.merge(graphdef, state)(x, layers, kernels).values())

    gradient = jax.jit(jax.grad(loss))  # one program each, not op by op
    fast = gradient(image, state, backward)
    plain = gradient(image, state, None)
    np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-6 * np.abs(plain).max())


@pytest.mark.slow
def test_weight_gradient_through_fast_path_is_exact(vgg16):
    vgg = vgg16  # the ported weights: any weights do, these are already loaded
    image = jnp.full((1, 32, 32, 3), 0.5)

    def loss(model, kernels):
        return jnp.sum(model(image, ["relu1_2"], kernels)["relu1_2"])

    fast = nnx.grad(loss)(vgg, vgg.backward_kernels())
    plain = nnx.grad(loss)(vgg, None)
    np.testing.assert_allclose(fast["convs"][1]["kernel"][...], plain["convs"][1]["kernel"][...], rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_pooling_choice_changes_deeper_layers_only(pooling):
    vgg = VGG("vgg19", pooling=pooling, rngs=nnx.Rngs(0))
    other = VGG("vgg19", pooling="max" if pooling == "avg" else "avg", rngs=nnx.Rngs(0))
    image = jnp.asarray(np.random.default_rng(0).random((1, 32, 32, 3), np.float32))
    a, b = vgg.features(image, ["relu1_2", "relu2_1"]), other.features(image, ["relu1_2", "relu2_1"])
    np.testing.assert_array_equal(a["relu1_2"], b["relu1_2"])
    assert not np.allclose(a["relu2_1"], b["relu2_1"])


def test_vgg19_has_sixteen_relus():
    assert len(layer_names("vgg19")) == 16 and layer_names("vgg19")[-1] == "relu5_4"


@pytest.mark.slow
@pytest.mark.parametrize("fast_backward", [False, True])
def test_remat_gives_the_same_features_and_image_gradient(vgg16, fast_backward):
    from sample_images import smooth_image

    image = jnp.asarray(smooth_image(32, 40))[None]
    layers = ("relu1_1", "relu2_2", "relu3_1", "relu4_2", "relu5_1")
    kernels = vgg16.backward_kernels() if fast_backward else None
    graphdef, state = nnx.split(vgg16)

    @partial(jax.jit, static_argnums=2)
    def features_and_grad(x, kernels, remat):
        def loss(x):
            features = nnx.merge(graphdef, state)(x, layers, kernels, remat=remat)
            return sum(jnp.mean(f ** 2) for f in features.values()), features
        return jax.value_and_grad(loss, has_aux=True)(x)

    (value, features), grad = features_and_grad(image, kernels, True)
    (want_value, want_features), want_grad = features_and_grad(image, kernels, False)
    np.testing.assert_allclose(value, want_value, rtol=1e-5)
    assert list(features) == list(want_features)
    for name in layers:  # XLA fuses differently across checkpoint boundaries: float rounding only
        ref = np.asarray(want_features[name])
        np.testing.assert_allclose(features[name], ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max(), err_msg=name)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-5 * np.abs(want_grad).max())


@pytest.mark.slow
def test_remat_shrinks_the_compiled_step_and_keeps_its_losses(vgg16):
    from sample_images import smooth_image, stripes

    from stylejax.objective import targets
    from stylejax.optim import loop, optimizers
    from stylejax.runtime import memory

    config = stylejax.StyleConfig(size=64, optimizer="adam")
    objective, args, content = targets.prepare(vgg16, smooth_image(64, 64), [stripes(48, 48)], config)
    optimizer = optimizers.make_optimizer("adam")
    needs, histories = {}, {}
    for remat in (False, True):
        remat_objective = dataclasses.replace(objective, remat=remat)
        state = loop.init_state_jit(remat_objective, optimizer, content, args)
        compiled = loop.run_steps_jit.lower(remat_objective, optimizer, state, jnp.int32(3), args, 3).compile()
        needs[remat] = memory.compiled_bytes(compiled)
        _, histories[remat] = compiled(state, jnp.int32(3), args)
        print(f"64x64 run_steps_jit, remat={remat}: {needs[remat]:,} bytes "
              f"(temp {compiled.memory_analysis().temp_size_in_bytes:,})")
    assert needs[True] < needs[False]
    np.testing.assert_allclose(histories[True], histories[False], rtol=1e-4)
    assert np.all(np.diff(np.asarray(histories[True])) < 0)  # it does optimise
