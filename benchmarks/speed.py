"""Per-step time of `stylejax.stylize` against the same objective in PyTorch eager fp32.

Same VGG16 weights, layers, loss terms and weights; 256 px and 512 px; Adam and L-BFGS. Each
measurement runs in a fresh process so its peak memory is its own. Prints a Markdown table with
stylejax/PyTorch ratios (below 1.0: stylejax is faster).

    python benchmarks/speed.py [--sizes 256,512] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def problem(size: int):
    from skimage import data

    from stylejax.io import demo_images, images

    content = np.asarray(data.chelsea(), np.float32) / 255.0  # 451x300 cat, as in the README figure
    shape = images.fit_size(content.shape[:2], size)
    return np.asarray(images.resize(content, shape)), demo_images.stained_glass(size, size)


def run_jax(size: int, optimizer: str, steps: int) -> dict:
    import stylejax

    content, style = problem(size)
    config = stylejax.StyleConfig(size=size, min_size=size, steps=steps, optimizer=optimizer, chunk_steps=steps)
    stylejax.load_vgg()
    first = stylejax.stylize(content, style, config)  # compiles
    # The loop's time is the difference between runs of 2N and N steps: fixed costs (targets, final
    # loss terms, transfers) cancel, as they are left out of the PyTorch timing too.
    short = stylejax.stylize(content, style, config)
    long = stylejax.stylize(content, style, config.replace(steps=2 * steps))
    return {"seconds": long.seconds - short.seconds, "evaluations": long.evaluations - short.evaluations,
            "compile": first.seconds - short.seconds, "overhead": 2 * short.seconds - long.seconds,
            "final_loss": short.losses["total"]}


def run_torch(size: int, optimizer: str, steps: int) -> dict:
    import torch
    from torch_reference import TorchObjective, TorchVGG, optimise

    import stylejax

    content, style = problem(size)
    config = stylejax.StyleConfig(size=size)
    objective = TorchObjective(TorchVGG(stylejax.load_vgg()), content, [style], config)
    optimise(objective, content, optimizer, 2)  # warm up allocator and kernels
    start = time.perf_counter()
    image, losses, evaluations = optimise(objective, content, optimizer, steps)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        final = float(objective(image))
    return {"seconds": seconds, "evaluations": evaluations, "compile": 0.0, "final_loss": final}


def worker(framework: str, size: int, optimizer: str, steps: int) -> None:
    result = (run_jax if framework == "jax" else run_torch)(size, optimizer, steps)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(framework: str, size: int, optimizer: str, steps: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", framework, str(size), optimizer, str(steps)],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--optimizers", default="adam,lbfgs")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        framework, size, optimizer, steps = args.worker
        return worker(framework, int(size), optimizer, int(steps))

    import jax
    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {jax.devices()[0].device_kind}, "
          f"jax {jax.__version__}, torch {torch.__version__}, {torch.get_num_threads()} torch threads\n")
    print("| size | optimizer | stylejax s/step | PyTorch s/step | ratio (step) | stylejax s/eval | "
          "PyTorch s/eval | ratio (eval) | stylejax compile s | stylejax fixed s/call | peak RSS MB (jax / torch) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        for optimizer in args.optimizers.split(","):
            steps = args.steps if size <= 256 else max(5, args.steps // 2)
            j, t = measure("jax", size, optimizer, steps), measure("torch", size, optimizer, steps)
            js, ts = j["seconds"] / steps, t["seconds"] / steps
            je, te = j["seconds"] / j["evaluations"], t["seconds"] / t["evaluations"]
            print(f"| {size} | {optimizer} | {js:.3f} | {ts:.3f} | {js / ts:.2f} | {je:.3f} | {te:.3f} | "
                  f"{je / te:.2f} | {j['compile']:.1f} | {j['overhead']:.2f} | "
                  f"{j['peak_rss_mb']:.0f} / {t['peak_rss_mb']:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
