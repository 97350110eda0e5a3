"""Print resolution: single scale against coarse to fine, iterate averaging, remat, and tiles.

    python benchmarks/resolution.py quality --size 512 [--baseline-steps 300] [--baseline-optimizer adam] [-o DIR]
    python benchmarks/resolution.py ema --size 512
    python benchmarks/resolution.py memory --sizes 512,1024,2048
    python benchmarks/resolution.py tiled --size 2048 --tile 512 [--steps 20,5]

quality: a single-scale Adam run (today's one-scale engine) against the default multi-scale run, both in
this process, one after the other; the loss compared is the same full-size objective (the final scale's).
Times include compilation. "s to baseline loss" is when a run's full-size loss first fell to the
baseline's final loss (sampled every 10 steps). Writes a side-by-side sheet.
ema: the default schedule's final loss with and without iterate averaging, for Adam and lbfgs-fixed.
memory: XLA's memory analysis of one step's program and the time of a step, with and without remat.
tiled: `stylejax stylize` at --size, whole and in tiles, each in its own process: wall time, peak RSS
(the child's ru_maxrss), and the seam metric at the tile grid's borders of both outputs (the whole
run's is the control: it has no tiles). Writes both images and a side-by-side sheet.

Content: scikit-image's Chelsea the cat; style: van Gogh's Starry Night from ../shared/images when
present (--style), else stylejax's drawn stained glass.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED_STYLE = Path(__file__).resolve().parents[2] / "shared" / "images" / "style" / "starry_night.jpg"


def problem(style: str | None):
    from skimage import data

    from stylejax import load_image
    from stylejax.io import demo_images

    content = np.asarray(data.chelsea(), np.float32) / 255.0
    path = Path(style) if style else SHARED_STYLE
    return content, (load_image(path) if path.is_file() else demo_images.stained_glass(512, 512))


def timed_run(content, style, config):
    """stylize with (seconds since start, loss, scale index) sampled at every chunk."""
    import stylejax

    samples, scale = [], [0]
    start = time.perf_counter()

    def sample(step, image, history):
        samples.append((time.perf_counter() - start, float(history[-1]), scale[0]))

    result = stylejax.stylize(content, style, config, callback=sample,
                              on_scale=lambda s: scale.__setitem__(0, s.index))
    return result, time.perf_counter() - start, samples


def first_time_below(samples, loss, last_scale):
    """When the full-size loss (the last scale's) first fell to `loss`, or None."""
    return next((t for t, value, scale in samples if scale == last_scale and value <= loss), None)


def quality(args) -> None:
    import stylejax
    from stylejax.io import sheets

    content, style = problem(args.style)
    stylejax.load_vgg()
    base = stylejax.StyleConfig(size=args.size, chunk_steps=10)
    runs = {
        f"single scale, {args.baseline_optimizer} {args.baseline_steps}": base.replace(
            min_size=args.size, steps=args.baseline_steps, optimizer=args.baseline_optimizer),
        "default (multi-scale)": base,
    }
    results = {}
    for name, config in runs.items():
        result, seconds, samples = timed_run(content, style, config)
        results[name] = (config, result, seconds, samples)
        print(f"{name}: {seconds:.1f} s, loss {result.losses['total']:.4g}", file=sys.stderr)
    baseline_loss = next(iter(results.values()))[1].losses["total"]
    print(f"\n{args.size} px, {content.shape[1]}x{content.shape[0]} content; losses are the full-size objective\n")
    print("| run | scales | steps | evaluations | s (compile incl.) | full-size loss | s to baseline loss |")
    print("|---|---|---|---|---|---|---|")
    for name, (_, result, seconds, samples) in results.items():
        reach = first_time_below(samples, baseline_loss, len(result.scales) - 1)
        print(f"| {name} | {', '.join(map(str, result.scales))} | {len(result.loss_history)} | {result.evaluations} "
              f"| {seconds:.1f} | {result.losses['total']:.4g} | {'—' if reach is None else f'{reach:.1f}'} |")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    sheet = sheets.contact_sheet({name: r[1].image for name, r in results.items()}, height=args.size)
    stylejax.save_image(sheet, out / f"quality_{args.size}.png")
    for i, (_, (_, result, _, _)) in enumerate(results.items()):
        stylejax.save_image(result.image, out / f"quality_{args.size}_{i}.png")


def ema(args) -> None:
    import stylejax

    content, style = problem(args.style)
    stylejax.load_vgg()
    print("| optimizer | ema_decay | s | full-size loss |")
    print("|---|---|---|---|")
    for optimizer in ("adam", "lbfgs-fixed"):
        for decay in (0.0, 0.9, 0.99):  # crowsonkb's style-transfer-pytorch averages with 0.99
            config = stylejax.StyleConfig(size=args.size, optimizer=optimizer, ema_decay=decay)
            result, seconds, _ = timed_run(content, style, config)
            print(f"| {optimizer} | {decay} | {seconds:.1f} | {result.losses['total']:.4g} |", flush=True)


def memory(args) -> None:
    import jax
    import jax.numpy as jnp

    import stylejax
    from stylejax.io import images
    from stylejax.objective import targets
    from stylejax.optim import loop, optimizers
    from stylejax.runtime import memory
    from stylejax.solve import stylize

    content, style = problem(args.style)
    vgg = stylejax.load_vgg()
    print("| size | shape | remat | compiled MiB | s/step |")
    print("|---|---|---|---|---|")
    for size in map(int, args.sizes.split(",")):
        shape = images.fit_size(content.shape[:2], size)
        for remat in (False, True):
            config = stylejax.StyleConfig(size=size, remat=remat, optimizer="adam")
            need = stylize.memory_needed([style], config, shape)
            objective, targs, start = targets.prepare(vgg, images.resize(content, shape), [style], config)
            optimizer = optimizers.resolve_optimizer(config)
            state = loop.init_state_jit(objective, optimizer, start, targs)
            times = []
            for _ in range(3):  # the first call compiles
                begin = time.perf_counter()
                state, _ = loop.run_steps_jit(objective, optimizer, state, jnp.int32(1), targs, 1)
                jax.block_until_ready(state)
                times.append(time.perf_counter() - begin)
            print(f"| {size} | {shape[1]}x{shape[0]} | {'on' if remat else 'off'} | {need / 2**20:.0f} "
                  f"| {min(times[1:]):.2f} |", flush=True)
    print(f"\navailable: {memory.describe(memory.available_bytes())}")


def tiled(args) -> None:
    from skimage import data

    import stylejax
    from stylejax.io import demo_images, sheets
    from stylejax.solve import tiles

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        content = Path(tmp) / "chelsea.png"
        stylejax.save_image(np.asarray(data.chelsea(), np.float32) / 255.0, content)
        style = args.style or (str(SHARED_STYLE) if SHARED_STYLE.is_file() else None)
        if style is None:
            style = str(Path(tmp) / "glass.png")
            stylejax.save_image(demo_images.stained_glass(512, 512), style)
        print("| run | s | peak RSS GiB | seam metric |")
        print("|---|---|---|---|")
        steps = ["--steps", args.steps] if args.steps else []
        outputs = {}
        for name, extra in (("whole", []), (f"--tile {args.tile}", ["--tile", str(args.tile)])):
            target = out / f"tiled_{args.size}_{'whole' if not extra else args.tile}.png"
            argv = [sys.executable, "-m", "stylejax", "stylize", str(content), style, "-o", str(target),
                    "--size", str(args.size), *steps, "--overwrite", *extra]
            begin = time.perf_counter()
            proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - begin
            if os.waitstatus_to_exitcode(status) != 0:
                print(f"| {name} | failed: {proc.stderr.read().strip()[-300:]} | | |")
                continue
            outputs[name] = stylejax.load_image(target)
            print(f"| {name} | {seconds:.0f} | {usage.ru_maxrss / 2**20:.2f} "
                  f"| {tiles.seam_ratio(outputs[name], args.tile):.3f} |", flush=True)
        if outputs:
            sheet = sheets.contact_sheet(outputs, height=min(args.size, 1024))
            stylejax.save_image(sheet, out / f"tiled_{args.size}_sheet.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("quality", "ema", "memory", "tiled"))
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--sizes", default="512,1024,2048")
    parser.add_argument("--baseline-steps", type=int, default=300)
    parser.add_argument("--baseline-optimizer", default="adam")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--steps", default=None, help="tiled: steps per scale of both runs (default: stylize's)")
    parser.add_argument("--style", default=None)
    parser.add_argument("-o", "--output", default="resolution-results")
    args = parser.parse_args()
    {"quality": quality, "ema": ema, "memory": memory, "tiled": tiled}[args.what](args)


if __name__ == "__main__":
    main()
