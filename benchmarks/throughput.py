"""Images per second of `stylize_batch` against a Python loop over `stylize`.

At 128 px and 256 px, batch sizes 1/2/4/8, on the CPU with 1 and 4 simulated devices (each device
count in its own process, as XLA fixes it at start-up) and on a GPU when one is present. Compilation
is excluded: every configuration runs once to compile, then is timed `--repeats` times, the loop and
the batches interleaved so that a slow spell of the machine hits both. Prints a Markdown table of the
best (least disturbed) of the repeats; the speed-up column also gives the range of the ratios of
loop and batch timed side by side in each repeat.

    python benchmarks/throughput.py [--images 8] [--steps 10] [--sizes 128,256] [--devices 1,4] [--repeats 3]
                                    [--vmap-sizes auto,all] [--optimizer adam]

The table also gives each side's mean final loss and evaluations per image (line searches count
every trial), so optimizers with line searches can be compared by loss per evaluation, e.g.

    python benchmarks/throughput.py --optimizer lbfgs-backtrack --sizes 128 --batches 4 --vmap-sizes auto,all \
        --devices 1 --steps 20

--vmap-sizes: stylize_batch's vmap_size per row: auto (1 on CPU: a device's images one after the
other), all (a device's images in lockstep) or a number.
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

    from stylejax.io import demo_images

    cat = np.asarray(data.chelsea(), np.float32) / 255.0
    rng = np.random.default_rng(0)
    # 3:4 crops of one photo: one shape bucket, and one that stylize also uses at 128 and 256 px, so
    # both sides optimise the same pixels (a bucket rounds the short side by up to 8 px either way).
    crops = []
    for _ in range(count):
        y, x = rng.integers(0, 12), rng.integers(0, 60)
        crops.append(cat[y:y + 288, x:x + 384])
    return crops, demo_images.stained_glass(256, 256)


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def vmap_size(name: str) -> int | str | None:
    return {"auto": "auto", "all": None}[name] if name in ("auto", "all") else int(name)


def worker(sizes: list[int], batches: list[int], vmap_sizes: list[str], images: int, steps: int,
           repeats: int, optimizer: str) -> None:
    import jax

    import stylejax

    contents, style = problem(images)
    device = f"{jax.local_device_count()}x {jax.devices()[0].device_kind}"
    rows = []
    for size in sizes:
        config = stylejax.StyleConfig(size=size, min_size=size, steps=steps, optimizer=optimizer, chunk_steps=steps)

        quality = {}  # mean final loss and evaluations per image, from the last timed call

        def loop(contents, config=config, quality=quality):
            results = [stylejax.stylize(content, style, config) for content in contents]
            quality["loop"] = (np.mean([r.losses["total"] for r in results]),
                               np.mean([r.evaluations for r in results]))

        def batched(contents, batch, vmap, config=config, quality=quality):
            result = stylejax.stylize_batch(contents, style, config, batch_size=batch, vmap_size=vmap_size(vmap))
            quality[batch, vmap] = (np.mean([t["total"] for t in result.losses]), np.mean(result.evaluations))

        runs = [(b, v) for v in vmap_sizes for b in batches]
        loop(contents[:1])  # compile
        for batch, vmap in runs:
            batched(contents[:batch], batch, vmap)  # compile
        loop_s, batch_s = [], {run: [] for run in runs}
        for _ in range(repeats):
            loop_s.append(timed(lambda: loop(contents)) / images)
            for run in runs:
                batch_s[run].append(timed(lambda run=run: batched(contents, *run)) / images)
        for (batch, vmap), seconds in batch_s.items():
            ratios = np.array(loop_s) / np.array(seconds)
            rows.append({"device": device, "size": size, "batch": batch, "vmap_size": vmap,
                         "batch_s_per_image": min(seconds), "loop_s_per_image": min(loop_s),
                         "speedup_min": float(ratios.min()), "speedup_max": float(ratios.max()),
                         "batch_loss": float(quality[batch, vmap][0]), "batch_evals": float(quality[batch, vmap][1]),
                         "loop_loss": float(quality["loop"][0]), "loop_evals": float(quality["loop"][1])})
    print(json.dumps(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--devices", default="1,4", help="simulated CPU device counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vmap-sizes", default="auto", help="comma-separated: auto, all, or numbers")
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--gpu", action="store_true", help="run once on the default (GPU) backend instead")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    if args.worker:
        return worker(sizes, batches, args.vmap_sizes.split(","), args.images, args.steps, args.repeats,
                      args.optimizer)
    runs = [{}] if args.gpu else [
        {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}
        for n in (int(d) for d in args.devices.split(","))]
    print(f"{args.images} images, {args.steps} {args.optimizer} steps each, best of {args.repeats} repeats; "
          "seconds per image (lower is better)\n")
    print("| devices | size | batch | vmap_size | stylize_batch s/img | img/s | loop over stylize s/img "
          "| speed-up (range) | batch/loop s per img | final loss (batch, loop) | evaluations/img (batch, loop) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for env in runs:
        cmd = [sys.executable, __file__, "--worker", "--images", str(args.images), "--steps", str(args.steps),
               "--sizes", args.sizes, "--batches", args.batches, "--repeats", str(args.repeats),
               "--vmap-sizes", args.vmap_sizes, "--optimizer", args.optimizer]
        out = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True, text=True, check=True).stdout
        for r in json.loads(out.strip().splitlines()[-1]):
            print(f"| {r['device']} | {r['size']} | {r['batch']} | {r['vmap_size']} | {r['batch_s_per_image']:.3f} | "
                  f"{1 / r['batch_s_per_image']:.2f} | {r['loop_s_per_image']:.3f} | "
                  f"{r['loop_s_per_image'] / r['batch_s_per_image']:.2f}x "
                  f"({r['speedup_min']:.2f}-{r['speedup_max']:.2f}) | "
                  f"{r['batch_s_per_image'] / r['loop_s_per_image']:.2f} | "
                  f"{r['batch_loss']:.4g}, {r['loop_loss']:.4g} | {r['batch_evals']:.1f}, {r['loop_evals']:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
