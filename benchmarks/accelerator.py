"""One command, on whatever device is present: step speed against the device's peak, batch throughput,
the largest size that fits, and the same objective in PyTorch eager, all in one run.

    python benchmarks/accelerator.py                       # 512 px, 500 steps, vmap 1..64 (a GPU/TPU)
    python benchmarks/accelerator.py --size 128 --steps 20 --vmap-sizes 1,2,4 --fit-limit 1024   # a CPU

- Single image: `--steps` steps of each of `--optimizers` at size x size on the demo problem, per
  precision; seconds exclude compilation. FLOPs are XLA's count (`cost_analysis()`) of one loss-and-
  gradient evaluation times the evaluations used (optimizer arithmetic is negligible), over seconds,
  as a share of the matmul peak measured in this run in that dtype and, on known devices, of the
  datasheet's dense peak.
- Throughput: images per second of a `BatchSolver` of `--batch-steps` Adam steps per image for each
  vmap size (images in lockstep on one device), f32 and bf16; "OOM" where it does not fit.
- Fit: the largest square size (multiples of 64 up to --fit-limit) whose Adam step XLA says fits the
  device's memory, with and without remat (compiled with abstract arguments: nothing runs).
- PyTorch eager fp32 (CUDA when present) runs the same objective with `torch.optim.Adam`.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import stylejax
from stylejax.io import demo_images, images
from stylejax.objective import targets
from stylejax.optim import loop, optimizers
from stylejax.runtime import memory
from stylejax.runtime.meshes import local_mesh
from stylejax.solve import stylize
from stylejax.solve.batch import BatchSolver

# Dense peak TFLOP/s from datasheets (bf16 tensor cores; f32 without TF32), by device_kind substring.
DATASHEET = {"H200": {"bf16": 989, "f32": 67}, "H100": {"bf16": 989, "f32": 67}, "A100": {"bf16": 312, "f32": 19.5},
             "L4": {"bf16": 121, "f32": 30}, "TPU v4": {"bf16": 275}, "TPU v5 lite": {"bf16": 197},
             "TPU v5p": {"bf16": 459}, "TPU v6": {"bf16": 918}}
DTYPES = {"f32": jnp.float32, "bf16": jnp.bfloat16}


def problem(size: int) -> tuple[np.ndarray, np.ndarray]:
    photo = demo_images.astronaut()
    side = min(photo.shape[:2])
    return images.resize(photo[:side, :side], (size, size)), demo_images.stained_glass(size, size)


def timed(fn) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def matmul_peak(precision: str) -> float:
    """FLOP/s of a large matmul in `precision` (f32 accumulation), best of 3."""
    n = 4096 if jax.default_backend() != "cpu" else 1536
    a = jnp.ones((n, n), DTYPES[precision])
    mm = jax.jit(lambda a, b: jnp.matmul(a, b, preferred_element_type=jnp.float32)).lower(a, a).compile()
    mm(a, a).block_until_ready()
    return 2 * n ** 3 / min(timed(lambda: mm(a, a)) for _ in range(3))


def datasheet_peak(precision: str) -> float | None:
    kind = jax.devices()[0].device_kind
    for name, peaks in DATASHEET.items():
        if name in kind and precision in peaks:
            return peaks[precision] * 1e12
    return None


def single_image(vgg, size: int, steps: int, optimizer: str, precision: str) -> dict:
    content, style = problem(size)
    config = stylejax.StyleConfig(size=size, min_size=size, precision=precision)
    objective, args, content = targets.prepare(vgg, content, [style], config)
    opt = optimizers.make_optimizer(optimizer)
    flops = jax.jit(jax.value_and_grad(objective)).lower(content, args).compile().cost_analysis()
    flops = (flops[0] if isinstance(flops, list) else flops)["flops"]
    chunk = min(steps, 50)
    state = loop.init_state_jit(objective, opt, content, args)
    run = loop.run_steps_jit.lower(objective, opt, state, jnp.int32(chunk), args, chunk,
                                   ema_decay=jnp.float32(0)).compile()
    state, _ = run(state, jnp.int32(chunk), args, ema_decay=jnp.float32(0))  # warm up (not counted)
    start_evals = int(state.evaluations)
    start = time.perf_counter()
    for done in range(0, steps, chunk):
        state, losses = run(state, jnp.int32(min(chunk, steps - done)), args, ema_decay=jnp.float32(0))
    jax.block_until_ready(state)
    seconds = time.perf_counter() - start
    evaluations = int(state.evaluations) - start_evals
    return {"seconds": seconds, "evaluations": evaluations, "flops": flops * evaluations,
            "loss": float(objective(state.image, args))}


def throughput(size: int, steps: int, vmap: int, precision: str) -> float | None:
    content, style = problem(size)
    config = stylejax.StyleConfig(size=size, min_size=size, steps=steps, chunk_steps=steps, optimizer="adam",
                                  precision=precision)
    solver = BatchSolver.create(style, config, mesh=local_mesh(jax.local_devices()[:1]), vmap_size=vmap)
    contents = jnp.stack([jnp.asarray(content)] * vmap)
    try:
        state, args = solver.start(contents)
        run = solver.programs().run
        jax.block_until_ready(run(state, jnp.int32(steps), jnp.float32(0), args))  # compile and warm up
        state, args = solver.start(contents)
        seconds = timed(lambda: run(state, jnp.int32(steps), jnp.float32(0), args))
    except Exception as e:  # XLA's RESOURCE_EXHAUSTED: the size does not fit
        if "RESOURCE_EXHAUSTED" in str(e) or "out of memory" in str(e).lower():
            return None
        raise
    return vmap / seconds


def largest_fit(vgg, limit: int, remat: bool) -> int | None:
    available = memory.available_bytes()
    _, style = problem(64)
    best = None
    for size in range(64, limit + 1, 64):
        config = stylejax.StyleConfig(size=size, min_size=size, optimizer="adam", remat=remat)
        if stylize.memory_needed([style], config, (size, size)) > available:
            break
        best = size
    return best


def torch_adam(size: int, steps: int) -> tuple[float, str]:
    sys.path.insert(0, str(Path(__file__).parent))
    import torch
    from torch_reference import TorchObjective, TorchVGG

    device = "cuda" if torch.cuda.is_available() else "cpu"
    content, style = problem(size)
    objective = TorchObjective(TorchVGG(stylejax.load_vgg()), content, [style], stylejax.StyleConfig(size=size))
    objective.net.to(device)
    move = {k: v.to(device) for k, v in objective.content_targets.items()}
    objective.content_targets, objective.style_targets = move, {k: v.to(device) for k, v in
                                                                objective.style_targets.items()}
    image = torch.from_numpy(np.array(content.transpose(2, 0, 1)[None])).to(device).requires_grad_(True)
    opt = torch.optim.Adam([image], lr=0.02)

    def step():
        opt.zero_grad()
        objective(image).backward()
        opt.step()
        with torch.no_grad():
            image.clamp_(0, 1)

    for _ in range(3):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--optimizers", default="adam,lbfgs-backtrack,lbfgs-fixed")
    parser.add_argument("--precisions", default="f32,bf16")
    parser.add_argument("--vmap-sizes", default="1,2,4,8,16,32,64")
    parser.add_argument("--batch-steps", type=int, default=10)
    parser.add_argument("--fit-limit", type=int, default=4096, help="largest size tried by the fit search")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    precisions = args.precisions.split(",")
    vgg = stylejax.load_vgg("vgg16")
    kind = f"{jax.device_count()}x {jax.devices()[0].device_kind} ({jax.default_backend()})"
    print(f"{kind}, jax {jax.__version__}, {args.size}x{args.size}, demo problem\n")
    peaks = {p: matmul_peak(p) for p in precisions}
    print("| dtype | measured matmul TFLOP/s | datasheet TFLOP/s |\n|---|---|---|")
    for p in precisions:
        sheet = datasheet_peak(p)
        print(f"| {p} | {peaks[p] / 1e12:.2f} | {'—' if sheet is None else f'{sheet / 1e12:.0f}'} |")

    print("\n| optimizer | precision | steps | evaluations | s | s/step | TFLOP/s | % of measured peak "
          "| % of datasheet peak | final loss |\n|---|---|---|---|---|---|---|---|---|---|")
    for name in args.optimizers.split(","):
        for p in precisions:
            r = single_image(vgg, args.size, args.steps, name, p)
            rate = r["flops"] / r["seconds"]
            sheet = datasheet_peak(p)
            print(f"| {name} | {p} | {args.steps} | {r['evaluations']} | {r['seconds']:.2f} | "
                  f"{r['seconds'] / args.steps:.4f} | {rate / 1e12:.2f} | {100 * rate / peaks[p]:.0f} | "
                  f"{'—' if sheet is None else f'{100 * rate / sheet:.1f}'} | {r['loss']:.4g} |", flush=True)

    print(f"\nThroughput, images/s ({args.batch_steps} Adam steps per image, one device):\n")
    print("| vmap size | " + " | ".join(precisions) + " |\n|---|" + "---|" * len(precisions))
    for v in (int(s) for s in args.vmap_sizes.split(",")):
        cells = [throughput(args.size, args.batch_steps, v, p) for p in precisions]
        print(f"| {v} | " + " | ".join("OOM" if c is None else f"{c:.2f}" for c in cells) + " |", flush=True)

    print("\n| remat | largest square size that fits one device (Adam) |\n|---|---|")
    for remat in (False, True):
        fit = largest_fit(vgg, args.fit_limit, remat)
        print(f"| {'on' if remat else 'off'} | {fit if fit is not None else 'none'}"
              f"{'+' if fit == args.fit_limit else ''} |", flush=True)

    if not args.no_torch:
        seconds, device = torch_adam(args.size, args.steps)
        print(f"\nPyTorch eager fp32 on {device}: {args.steps} Adam steps in {seconds:.2f} s "
              f"({seconds / args.steps:.4f} s/step)")


if __name__ == "__main__":
    main()
