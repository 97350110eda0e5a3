"""A Flax VGG16/VGG19 feature extractor returning named ReLU activations.

Pure: no file access. Weights come from `stylejax.nn.weights`, which fills a model built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx

from stylejax.errors import StyleJaxError

# Convolutions per block, as in Simonyan & Zisserman's configurations D and E.
BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
CHANNELS = (64, 128, 256, 512, 512)

# How a checkpoint expects its input. torchvision: RGB in [0, 1] then ImageNet mean/std.
# caffe (Keras, the original VGG release): BGR in [0, 255] minus the per-channel mean.
PREPROCESSING = ("torchvision", "caffe")
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def conv_names(arch: str) -> list[str]:
    """Convolution names in network order, e.g. ['conv1_1', 'conv1_2', 'conv2_1', ...]."""
    return [f"conv{b + 1}_{i + 1}" for b, n in enumerate(_blocks(arch)) for i in range(n)]


def layer_names(arch: str) -> list[str]:
    """The ReLU names `features` can return, in network order.

    Args:
      arch: "vgg16" or "vgg19".

    Returns:
      ["relu1_1", "relu1_2", "relu2_1", ...].
    """
    return [name.replace("conv", "relu") for name in conv_names(arch)]


def _blocks(arch: str) -> tuple[int, ...]:
    try:
        return BLOCKS[arch]
    except KeyError:
        raise StyleJaxError(f"unknown architecture {arch!r}: use one of {', '.join(BLOCKS)}") from None


def check_layers(arch: str, layers: Sequence[str]) -> None:
    """Raises StyleJaxError naming the first layer `arch` does not have."""
    known = layer_names(arch)
    for layer in layers:
        if layer not in known:
            raise StyleJaxError(
                f"unknown layer {layer!r} for {arch}: use names like {known[0]}, {known[2]}, {known[-1]}"
            )


def preprocess(images: jax.Array, convention: str) -> jax.Array:
    """images: (b, h, w, 3) RGB in [0, 1] -> the input the checkpoint was trained on."""
    channels = (1,) * (images.ndim - 1) + (3,)
    if convention == "torchvision":
        mean, std = jnp.reshape(jnp.asarray(_TORCH_MEAN), channels), jnp.reshape(jnp.asarray(_TORCH_STD), channels)
        return (images - mean) / std
    if convention == "caffe":
        return images[..., ::-1] * 255.0 - jnp.reshape(jnp.asarray(_CAFFE_MEAN_BGR), channels)
    raise StyleJaxError(f"unknown preprocessing {convention!r}: use one of {', '.join(PREPROCESSING)}")


class VGG(nnx.Module):
    """VGG convolutional trunk (no classifier head).

    Args:
      arch: "vgg16" or "vgg19".
      pooling: "max" (as trained) or "avg" (Gatys et al.: smoother gradients, better images).
      preprocessing: the input convention of the weights, one of PREPROCESSING.
      rngs: initialises random weights; real weights are loaded with `stylejax.load_vgg`.
    """

    def __init__(self, arch: str = "vgg16", *, pooling: str = "avg",
                 preprocessing: str = "torchvision", rngs: nnx.Rngs | None = None):
        if pooling not in ("max", "avg"):
            raise StyleJaxError(f"unknown pooling {pooling!r}: use 'avg' or 'max'")
        if preprocessing not in PREPROCESSING:
            raise StyleJaxError(f"unknown preprocessing {preprocessing!r}: use one of {', '.join(PREPROCESSING)}")
        rngs = rngs if rngs is not None else nnx.Rngs(0)
        self.arch = arch
        self.pooling = pooling
        self.preprocessing = preprocessing
        self.names = tuple(conv_names(arch))
        convs = []
        c_in = 3
        for block, count in enumerate(_blocks(arch)):
            for _ in range(count):
                convs.append(nnx.Conv(c_in, CHANNELS[block], (3, 3), padding=1, rngs=rngs))
                c_in = CHANNELS[block]
        self.convs = nnx.List(convs)

    def backward_kernels(self) -> tuple[jax.Array, ...]:
        """Each kernel flipped and with its channels swapped: what the input gradient convolves with.

        Pass them to `__call__` when differentiating with respect to the image inside a loop.
        """
        return tuple(jnp.transpose(conv.kernel[...][::-1, ::-1], (0, 1, 3, 2)) for conv in self.convs)

    def __call__(self, images: jax.Array, layers: Sequence[str],
                 backward_kernels: Sequence[jax.Array] | None = None, *, remat: bool = False,
                 dtype: jnp.dtype = jnp.float32) -> dict[str, jax.Array]:
        """images: (b, h, w, 3) float in [0, 1] -> {layer: (b, h', w', c)} for each requested ReLU.

        Stops after the deepest requested layer, so asking for relu1_1 costs one convolution.
        With `backward_kernels` (from `backward_kernels()`, computed outside any loop) the image
        gradient uses them instead of flipping kernels itself: inside a `lax.scan` or `while_loop`,
        XLA:CPU hoists that flip and then convolves ~4x slower.
        With `remat=True` each block (its convolutions and the pooling after them) runs under
        `jax.checkpoint`: the backward pass keeps only block inputs and the requested layers and
        recomputes the rest, for less memory and about one more forward pass of time. Same values.
        `dtype` is what the convolutions multiply in (bfloat16: mixed precision): the f32 weights are
        cast at use, products accumulate in f32, and activations (the returned ones too) are stored
        in `dtype`.
        """
        relu_names = [n.replace("conv", "relu") for n in self.names]
        wanted = set(layers)
        missing = wanted - set(relu_names)
        if missing:
            check_layers(self.arch, sorted(missing))
        last = max(relu_names.index(name) for name in wanted)
        kernels = [conv.kernel[...] for conv in self.convs]
        biases = [conv.bias[...] for conv in self.convs]
        x = preprocess(images, self.preprocessing).astype(dtype)
        out = {}
        first = 0
        for count in _blocks(self.arch):
            indices = range(first, min(first + count, last + 1))
            first += count
            block = partial(_block, names=tuple(relu_names[i] for i in indices), wanted=frozenset(wanted),
                            pooling=self.pooling if first <= last else None)
            if remat:
                # Plain jax.checkpoint over arrays: nnx.remat on a merged module fails inside transforms.
                block = jax.checkpoint(block)
            features, x = block(x, tuple(kernels[i].astype(dtype) for i in indices), tuple(biases[i] for i in indices),
                                None if backward_kernels is None
                                else tuple(backward_kernels[i].astype(dtype) for i in indices))
            out |= features
            if first > last:
                break
        return out

    def features(self, images: jax.Array, layers: Sequence[str]) -> dict[str, jax.Array]:
        """Jit-compiled `__call__`: (b, h, w, 3) float32 in [0, 1] -> dict of named activations."""
        check_layers(self.arch, layers)
        graphdef, state = nnx.split(self)
        return extract_features(graphdef, state, jnp.asarray(images, jnp.float32), tuple(layers))


@partial(jax.jit, static_argnums=(0, 3))
def extract_features(graphdef: nnx.GraphDef, state: nnx.State, images: jax.Array,
                     layers: tuple[str, ...]) -> dict[str, jax.Array]:
    """The pure form of `VGG.features`: weights are an argument, not constants in the program.

    Args:
      graphdef: the model's structure, from `nnx.split(vgg)`.
      state: the model's weights, from `nnx.split(vgg)`.
      images: (b, h, w, 3) float32 in [0, 1].
      layers: the ReLU names to return.

    Returns:
      {layer: (b, h', w', c)} activations.
    """
    return nnx.merge(graphdef, state)(images, layers)


def _block(x: jax.Array, kernels: tuple[jax.Array, ...], biases: tuple[jax.Array, ...],
           backward_kernels: tuple[jax.Array, ...] | None, *, names: tuple[str, ...], wanted: frozenset[str],
           pooling: str | None) -> tuple[dict[str, jax.Array], jax.Array]:
    """One VGG block as a pure function of arrays: 3x3 conv + ReLU per kernel, then pooling if given.

    Returns ({name: activation} for the names in `wanted`, the block's output for the next block).
    The convolutions multiply in x's dtype and accumulate in f32; bias and ReLU run in f32 and the
    result is stored in x's dtype again.
    """
    out = {}
    for i, name in enumerate(names):
        if backward_kernels is None:
            y = _plain_conv(x, kernels[i])
        else:
            y = _conv(x, kernels[i], backward_kernels[i])
        x = jax.nn.relu(y + biases[i].reshape(1, 1, 1, -1)).astype(x.dtype)
        if name in wanted:
            out[name] = x
    # window_shape by keyword: jax2onnx's stand-in for nnx.max_pool (an ONNX export) takes it no other way.
    if pooling == "avg":
        x = nnx.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
    elif pooling == "max":
        x = nnx.max_pool(x, window_shape=(2, 2), strides=(2, 2))
    return out, x


_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _plain_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """A 3x3 'same' convolution; bfloat16 inputs accumulate (and return) in f32."""
    accumulate = jnp.float32 if x.dtype == jnp.bfloat16 else None  # f32 in: as before, untouched
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=_DIMENSIONS,
                                        preferred_element_type=accumulate)


@jax.custom_vjp
def _conv(x: jax.Array, kernel: jax.Array, backward_kernel: jax.Array) -> jax.Array:
    """A 3x3 'same' convolution whose input gradient convolves with a given, precomputed kernel."""
    return _plain_conv(x, kernel)


def _conv_fwd(x, kernel, backward_kernel):
    return _plain_conv(x, kernel), (x, kernel, backward_kernel)


def _conv_bwd(residuals, g):
    x, kernel, backward_kernel = residuals
    # The kernel's gradient is exact too; XLA drops it when only the image is differentiated.
    _, kernel_vjp = jax.vjp(lambda k: _plain_conv(x, k), kernel)
    # In bfloat16 the output's cotangent is f32: multiply in bf16, accumulate in f32, return x's dtype.
    dx = _plain_conv(g.astype(x.dtype), backward_kernel).astype(x.dtype)
    return dx, kernel_vjp(g)[0], jnp.zeros_like(backward_kernel)


_conv.defvjp(_conv_fwd, _conv_bwd)
