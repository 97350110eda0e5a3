"""Images per second of `stylize_batch` against a Python loop over `stylize`.

At 128 px and 256 px, batch sizes 1/2/4/8, on the CPU with 1 and 4 simulated devices (each device
count in its own process, as XLA fixes it at start-up) and on a GPU when one is present. Compilation
is excluded: every configuration runs once to compile, then is timed. Prints a Markdown table.

    python benchmarks/throughput.py [--images 8] [--steps 10] [--sizes 128,256] [--devices 1,4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def problem(count: int):
    from skimage import data

    from stylejax import demo

    cat = np.asarray(data.chelsea(), np.float32) / 255.0
    rng = np.random.default_rng(0)
    # Same-aspect crops of one photo, so every configuration sees one shape bucket.
    crops = []
    for _ in range(count):
        y, x = rng.integers(0, 40), rng.integers(0, 60)
        crops.append(cat[y:y + 256, x:x + 384])
    return crops, demo.stained_glass(256, 256)


def worker(sizes: list[int], batches: list[int], images: int, steps: int) -> None:
    import jax

    import stylejax

    contents, style = problem(images)
    rows = []
    for size in sizes:
        config = stylejax.StyleConfig(size=size, steps=steps, optimizer="adam", chunk_steps=steps)
        stylejax.stylize(contents[0], style, config)  # compile
        start = time.perf_counter()
        for content in contents:
            stylejax.stylize(content, style, config)
        loop = time.perf_counter() - start
        for batch in batches:
            stylejax.stylize_batch(contents[:batch], style, config, batch_size=batch)  # compile
            start = time.perf_counter()
            stylejax.stylize_batch(contents, style, config, batch_size=batch)
            seconds = time.perf_counter() - start
            rows.append({"device": f"{jax.local_device_count()}x {jax.devices()[0].device_kind}", "size": size,
                         "batch": batch, "batch_s_per_image": seconds / images,
                         "loop_s_per_image": loop / images})
    print(json.dumps(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--devices", default="1,4", help="simulated CPU device counts")
    parser.add_argument("--gpu", action="store_true", help="run once on the default (GPU) backend instead")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    if args.worker:
        return worker(sizes, batches, args.images, args.steps)
    runs = [{}] if args.gpu else [
        {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}
        for n in (int(d) for d in args.devices.split(","))]
    print(f"{args.images} images, {args.steps} Adam steps each; seconds per image (lower is better)\n")
    print("| devices | size | batch | stylize_batch s/img | img/s | loop over stylize s/img | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for env in runs:
        cmd = [sys.executable, __file__, "--worker", "--images", str(args.images), "--steps", str(args.steps),
               "--sizes", args.sizes, "--batches", args.batches]
        out = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True, text=True, check=True).stdout
        for r in json.loads(out.strip().splitlines()[-1]):
            print(f"| {r['device']} | {r['size']} | {r['batch']} | {r['batch_s_per_image']:.3f} | "
                  f"{1 / r['batch_s_per_image']:.2f} | {r['loop_s_per_image']:.3f} | "
                  f"{r['loop_s_per_image'] / r['batch_s_per_image']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
