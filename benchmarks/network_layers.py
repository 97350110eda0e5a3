"""Each convolution of the style network, in XLA (jax.lax) and PyTorch (oneDNN), forward and gradient.

Why a stylejax training step is slower than PyTorch eager on a CPU: the network's layers, one at a time,
at their shapes in a 128 px, batch-4, width-32 step (reflection padding included in the input).

    python benchmarks/network_layers.py [--size 128] [--width 32]
"""

from __future__ import annotations

import argparse
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


def layers(size: int, width: int) -> list[tuple[str, int, int, int, int, int]]:
    """(name, input side, kernel, in channels, out channels, stride) of each convolution kind."""
    w = width
    return [("c9s1 in", size, 9, 3, w, 1), ("d2", size, 3, w, 2 * w, 2), ("d4", size // 2, 3, 2 * w, 4 * w, 2),
            ("residual (x10)", size // 4, 3, 4 * w, 4 * w, 1), ("u2 (after x2)", size // 2, 3, 4 * w, 2 * w, 1),
            ("u1 (after x2)", size, 3, 2 * w, w, 1), ("c9s1 out", size, 9, w, 3, 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    print("| layer | GFLOP | XLA forward ms (GFLOP/s) | XLA fwd+grad ms | PyTorch forward ms (GFLOP/s) "
          "| PyTorch fwd+grad ms |")
    print("|---|---|---|---|---|---|")
    for name, side, k, c_in, c_out, stride in layers(args.size, args.width):
        pad = k // 2
        x = np.random.default_rng(0).uniform(size=(args.batch, side + 2 * pad, side + 2 * pad, c_in)).astype("f4")
        w = np.random.default_rng(1).uniform(size=(k, k, c_in, c_out)).astype("f4")

        def conv(x, w, stride=stride):
            return jax.lax.conv_general_dilated(x, w, (stride, stride), "VALID", dimension_numbers=DIMENSIONS)

        forward = jax.jit(conv)
        gradient = jax.jit(jax.grad(lambda x, w: jnp.sum(conv(x, w) ** 2), argnums=(0, 1)))
        jx, jw = jnp.asarray(x), jnp.asarray(w)
        tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
        tw = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_(True)

        def torch_forward(tx=tx, tw=tw, stride=stride):
            with torch.no_grad():
                F.conv2d(tx, tw, stride=stride)

        def torch_gradient(tx=tx, tw=tw, stride=stride):
            (F.conv2d(tx, tw, stride=stride) ** 2).sum().backward()

        gflop = args.batch * (side // stride) ** 2 * k * k * c_in * c_out * 2 / 1e9
        jf = median_seconds(lambda f=forward, a=jx, b=jw: jax.block_until_ready(f(a, b)))
        jg = median_seconds(lambda g=gradient, a=jx, b=jw: jax.block_until_ready(g(a, b)))
        tf, tg = median_seconds(torch_forward), median_seconds(torch_gradient)
        print(f"| {name}: {k}x{k} {c_in}->{c_out} at {side} px | {gflop:.2f} | {jf * 1e3:.0f} ({gflop / jf:.0f}) "
              f"| {jg * 1e3:.0f} | {tf * 1e3:.0f} ({gflop / tf:.0f}) | {tg * 1e3:.0f} |", flush=True)


if __name__ == "__main__":
    main()
