"""Wall time of a Ray fleet job with one worker against two, on a local Ray instance of this machine.

8 crops of one photo at 64 px (one shape bucket), Adam, one scale; batches of `--batch-size` go to
whichever worker is free. Both runs are in one process and one Ray instance, one after the other, each
into its own output folder; a small warm-up job first fills JAX's compilation cache, so neither timed
run pays for compiling more than the other. The time is the whole job as a user sees it: workers
starting, weights loading, the memory check, the batches and the manifest.

    python benchmarks/fleet.py [--images 8] [--size 64] [--steps 200] [--batch-size 1] [--cpus 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def write_problem(root: Path, count: int) -> tuple[Path, Path]:
    from skimage import data

    from stylejax.io import demo_images, images

    cat = np.asarray(data.chelsea(), np.float32) / 255.0
    rng = np.random.default_rng(0)
    source = root / "in"
    source.mkdir()
    for i in range(count):  # 3:4 crops: one bucket
        y, x = rng.integers(0, 12), rng.integers(0, 60)
        images.save_image(cat[y:y + 288, x:x + 384], source / f"cat{i}.png")
    images.save_image(demo_images.stained_glass(128, 128), root / "style.png")
    return source, root / "style.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="stylejax-fleet-bench-"))
    # Workers inherit this environment: one CPU device each, a compilation cache shared by all runs.
    os.environ.update(JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=1",
                      JAX_COMPILATION_CACHE_DIR=str(root / "xla-cache"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    import ray

    from stylejax import StyleConfig
    from stylejax.jobs import fleet, inputs

    source, style = write_problem(root, args.images)
    config = StyleConfig(size=args.size, min_size=args.size, steps=args.steps, optimizer="adam",
                         chunk_steps=max(1, args.steps // 2))
    ray.init(num_cpus=args.cpus, include_dashboard=False, namespace=fleet.NAMESPACE, log_to_driver=False)

    def job(workers: int, out: Path, items) -> float:
        start = time.perf_counter()
        summary = fleet.run_fleet(items, [style], out, config, workers=workers, batch_size=args.batch_size,
                                  log=lambda line: None)
        assert summary.done == len(items) and not summary.failed, summary
        return time.perf_counter() - start

    items = inputs.collect_inputs(source, root / "out")
    job(2, root / "warm-up", items[:2])  # compiles once, into the shared cache
    rows = []
    for workers in (1, 2):
        seconds = job(workers, root / f"out-{workers}", items)
        rows.append((workers, seconds))
    ray.shutdown()
    print(f"{args.images} images at {args.size} px, {args.steps} Adam steps, batches of {args.batch_size}, "
          f"local Ray with {args.cpus} CPUs\n")
    print("| workers | wall s | img/s | speed-up |\n|---|---|---|---|")
    for workers, seconds in rows:
        print(f"| {workers} | {seconds:.1f} | {args.images / seconds:.2f} | {rows[0][1] / seconds:.2f}x |")


if __name__ == "__main__":
    main()
