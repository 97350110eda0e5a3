"""bf16 mixed precision against f32 on the demo problem: final loss, pixels and speed, side by side.

    python benchmarks/precision.py [--size 128] [--steps 100] [--optimizer adam] [-o /tmp/precision]

Both runs optimise the demo photo towards the drawn stained glass from the same start in one
process, f32 first. The final images are both scored by the f32 objective (the bf16 run's own
figure is listed too). Seconds exclude compilation (measured with `CompileTimer` and subtracted).
Writes f32.png, bf16.png and a side-by-side sheet.png to -o.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np

import stylejax
from stylejax.cli.compile_cache import CompileTimer
from stylejax.io import demo_images, images, sheets
from stylejax.objective import targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("-o", "--output", default="/tmp/precision")
    args = parser.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    content, style = demo_images.astronaut(), demo_images.stained_glass(args.size, args.size)
    base = stylejax.StyleConfig(size=args.size, min_size=args.size, steps=args.steps, optimizer=args.optimizer,
                                chunk_steps=args.steps)
    vgg = stylejax.load_vgg(base.model, pooling=base.pooling)
    results = {}
    for precision in ("f32", "bf16"):
        config = base.replace(precision=precision)
        with CompileTimer() as timer:
            start = time.perf_counter()
            result = stylejax.stylize(content, style, config)
            seconds = time.perf_counter() - start
        results[precision] = (result, seconds - timer.seconds, timer.seconds)
        stylejax.save_image(result.image, out / f"{precision}.png")
    # Score both outputs with the same (f32) objective.
    f32 = base.replace(precision="f32")
    objective, args_, _ = targets.prepare(vgg, images.resize(content, results["f32"][0].image.shape[:2]),
                                         [style], f32)
    scored = {p: float(sum(targets.terms_of(objective, jax.numpy.asarray(r.image), args_).values()))
              for p, (r, _, _) in results.items()}
    print(f"{jax.devices()[0].device_kind}, {args.size} px, {args.steps} {args.optimizer} steps\n")
    print("| precision | final loss (f32 objective) | final loss (own objective) | s/step | compile s |")
    print("|---|---|---|---|---|")
    for p, (r, s, c) in results.items():
        print(f"| {p} | {scored[p]:.4g} | {r.losses['total']:.4g} | {s / args.steps:.3f} | {c:.1f} |")
    a, b = results["f32"][0].image, results["bf16"][0].image
    print(f"\nbf16/f32 final loss: {scored['bf16'] / scored['f32']:.4f}; mean |pixel difference| "
          f"{np.abs(a - b).mean():.4f} (max {np.abs(a - b).max():.3f}); bf16/f32 s/step "
          f"{results['bf16'][1] / results['f32'][1]:.2f}")
    stylejax.save_image(sheets.contact_sheet({"f32": a, "bf16": b}, height=args.size), out / "sheet.png")


if __name__ == "__main__":
    main()
