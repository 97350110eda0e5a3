"""Each layer of the style network, and the whole network, in XLA (plain and rewritten) and PyTorch (oneDNN).

One run prints, for each convolution of the network at its shape for an image of --size (default 512x320,
batch 1, width 32): GFLOP/s of XLA's own (VALID) convolution, of stylejax's exact rewrite of it
(`stylejax.nn.conv_rewrites`: padded and cropped, or another form) and of PyTorch's eager `conv2d`, forward and
forward + gradient (input and kernel; counted as 3x the forward's arithmetic). Each layer includes what
the network does around its convolution (reflection padding; nearest x2 before the upsampling ones) and
is counted at the plain layer's multiply-adds, so the three columns compare times. Then the whole
network's forward (`apply`) and forward + parameter gradient: plain, rewritten, PyTorch eager (the same
architecture, benchmarks/torch_network.py). Medians of 5 after a warm-up.

    python benchmarks/network_layers.py [--size 512x320] [--width 32] [--batch 1]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F

DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def median_seconds(run, repeats: int = 5) -> float:
    run()  # compiles / warms up
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        run()
        times.append(time.perf_counter() - tick)
    return float(np.median(times))


def cpu_name() -> str:
    """lscpu's model name, and whether the CPU has AVX-512 (avx512f)."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    avx512 = "avx512f" in fields.get("Flags", "").split()
    name, cpus = fields.get("Model name", "unknown"), fields.get("CPU(s)", "?")
    return f"{name}, {cpus} CPUs, avx512f {'yes' if avx512 else 'no'}"


def layers(height: int, width_px: int, w: int) -> list[tuple[str, int, int, int, int, int, int, bool]]:
    """(name, input h, input w, kernel, in channels, out channels, stride, upsampled first) of each layer."""
    h, v = height, width_px
    return [("c9s1 in", h, v, 9, 3, w, 1, False), ("d2", h, v, 3, w, 2 * w, 2, False),
            ("d4", h // 2, v // 2, 3, 2 * w, 4 * w, 2, False),
            ("residual (x10)", h // 4, v // 4, 3, 4 * w, 4 * w, 1, False),
            ("u2", h // 4, v // 4, 3, 4 * w, 2 * w, 1, True), ("u1", h // 2, v // 2, 3, 2 * w, w, 1, True),
            ("c9s1 out", h, v, 9, w, 3, 1, False)]


def xla_layer(k: int, stride: int, upsampled: bool, rewrite: bool):
    """f(x, kernel) as the network computes the layer: XLA's VALID convolution (`rewrite=False`) or
    `conv_rewrites`' form for it."""
    from stylejax.nn import conv_rewrites

    pad = k // 2

    def plain(x, kernel):
        if upsampled:
            x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
        x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
        return jax.lax.conv_general_dilated(x, kernel, (stride, stride), "VALID", dimension_numbers=DIMENSIONS)

    if not rewrite:
        return plain
    if upsampled:
        return conv_rewrites.upsampled_conv
    return lambda x, kernel: conv_rewrites.conv(jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)),
                                                        mode="reflect"), kernel, stride)


def torch_layer(k: int, stride: int, upsampled: bool):
    def layer(x, kernel):
        if upsampled:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.conv2d(F.pad(x, (k // 2,) * 4, mode="reflect"), kernel, stride=stride)

    return layer


def layer_table(args, height: int, width_px: int) -> None:
    print("| layer | GFLOP | forward GFLOP/s: XLA | XLA rewritten | PyTorch | fwd + grad GFLOP/s: XLA "
          "| XLA rewritten | PyTorch |")
    print("|---|---|---|---|---|---|---|---|")
    for name, h, v, k, c_in, c_out, stride, upsampled in layers(height, width_px, args.width):
        rng = np.random.default_rng(0)
        x = rng.uniform(size=(args.batch, h, v, c_in)).astype("f4")
        kernel = (rng.normal(size=(k, k, c_in, c_out)) / np.sqrt(k * k * c_in)).astype("f4")
        out_h, out_w = (2 * h, 2 * v) if upsampled else (h // stride, v // stride)
        gflop = args.batch * out_h * out_w * k * k * c_in * c_out * 2 / 1e9
        jx, jk = jnp.asarray(x), jnp.asarray(kernel)
        cells = []
        for rewrite in (False, True):
            layer = xla_layer(k, stride, upsampled, rewrite)
            forward = jax.jit(layer)
            gradient = jax.jit(jax.value_and_grad(lambda a, b, f=layer: jnp.sum(f(a, b) ** 2), argnums=(0, 1)))
            jf = median_seconds(lambda f=forward, a=jx, b=jk: jax.block_until_ready(f(a, b)))
            jg = median_seconds(lambda g=gradient, a=jx, b=jk: jax.block_until_ready(g(a, b)))
            cells.append((f"{gflop / jf:.0f}", f"{3 * gflop / jg:.0f}"))
        tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
        tk = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()).requires_grad_(True)
        layer = torch_layer(k, stride, upsampled)

        def torch_forward(layer=layer, tx=tx, tk=tk):
            with torch.no_grad():
                layer(tx, tk)

        def torch_gradient(layer=layer, tx=tx, tk=tk):
            (layer(tx, tk) ** 2).sum().backward()

        tf, tg = median_seconds(torch_forward), median_seconds(torch_gradient)
        (pf, pg), (rf, rg) = cells
        print(f"| {name}: {k}x{k} {c_in}->{c_out}{' s2' if stride == 2 else ''} at {h}x{v}"
              f"{' (x2 first)' if upsampled else ''} | {gflop:.2f} | {pf} | {rf} | {gflop / tf:.0f} "
              f"| {pg} | {rg} | {3 * gflop / tg:.0f} |", flush=True)


def random_network(width: int):
    """A width-`width` StyleNetwork (one style) with weights drawn by numpy, as trained ones look."""
    from flax import nnx

    from stylejax.nn.style_network import StyleNetwork

    network = nnx.eval_shape(lambda: StyleNetwork(width, 1))
    rng = np.random.default_rng(0)
    state = nnx.state(network, nnx.Param)
    state = jax.tree_util.tree_map_with_path(
        lambda path, a: np.asarray(rng.normal(size=a.shape) * 0.05 + ("scale" in jax.tree_util.keystr(path)),
                                   a.dtype), state)
    nnx.update(network, state)
    return network


def network_table(args, height: int, width_px: int) -> None:
    from flax import nnx
    from torch_network import TorchStyleNetwork

    print(f"\n| network at {width_px}x{height}, batch {args.batch} | XLA s | XLA rewritten s | PyTorch eager s "
          "| rewrite's speed-up (XLA s / rewritten s) | PyTorch s / rewritten s |")
    print("|---|---|---|---|---|---|")
    for width in sorted({args.width, 16}, reverse=True):
        graphdef, params = nnx.split(random_network(width))
        images = jnp.asarray(np.random.default_rng(1).uniform(size=(args.batch, height, width_px, 3)), jnp.float32)
        style = jnp.ones((1,), jnp.float32)
        times = {}
        for rewrite in (False, True):
            def apply(params, images, rewrite=rewrite, graphdef=graphdef, style=style):
                return nnx.merge(graphdef, params)(images, style, rewrite=rewrite)

            def loss(params, images, apply=apply):
                return jnp.mean(jnp.square(apply(params, images) - 0.5))

            forward, gradient = jax.jit(apply), jax.jit(jax.value_and_grad(loss))
            times[rewrite] = tuple(median_seconds(lambda f=f, p=params, x=images: jax.block_until_ready(f(p, x)))
                                   for f in (forward, gradient))
        net = TorchStyleNetwork(width)
        tx = torch.from_numpy(np.asarray(images).transpose(0, 3, 1, 2).copy())

        def torch_forward(net=net, tx=tx):
            with torch.no_grad():
                net(tx)

        def torch_gradient(net=net, tx=tx):
            net.zero_grad()
            ((net(tx) - 0.5) ** 2).mean().backward()

        torch_times = (median_seconds(torch_forward), median_seconds(torch_gradient))
        for i, what in enumerate(("apply (forward)", "forward + parameter gradient")):
            plain, rewritten, eager = times[False][i], times[True][i], torch_times[i]
            print(f"| width {width}, {what} | {plain:.3f} | {rewritten:.3f} | {eager:.3f} | {plain / rewritten:.2f}x "
                  f"| {eager / rewritten:.2f}x |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="512x320", help="the image, WIDTHxHEIGHT (multiples of 4)")
    parser.add_argument("--width", type=int, default=32, help="the network's width (channels of its first layer)")
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    width_px, height = (int(v) for v in args.size.lower().split("x"))
    print(f"CPU: {cpu_name()}; jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); image {width_px}x{height}, batch {args.batch}, width {args.width}\n")
    layer_table(args, height, width_px)
    network_table(args, height, width_px)


if __name__ == "__main__":
    main()
