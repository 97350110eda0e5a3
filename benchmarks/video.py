"""Video: independent frames against temporal stylization (Ruder et al. 2016), per optimizer, on a clip with motion.

    python benchmarks/video.py [--size 160] [--frames 14] [--fps 12] [--steps 40]
                               [--optimizers adam,lbfgs-fixed,lbfgs-backtrack] [--style PATH] [-o DIR]

The clip is a camera move made here: a window panning and slowly zooming across scikit-image's astronaut
photo. Every run gives the first frame the default coarse-to-fine schedule and every later frame --steps
steps; "independent" is `--temporal-weight 0 --frame-init content` (each frame starts from its content),
"temporal" the defaults (start from the previous output warped by the flow, pulled towards it).
Measured, per optimizer and run: the warping error (`stylejax.temporal_error`, the figure the CLI's summary
line prints: see `flow.warping_error`), the style loss per later frame, and seconds per frame (compilation
included). Prints a Markdown table; writes each run's video and a strip of consecutive frames of the first
optimizer's runs.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

SHARED_STYLE = Path(__file__).resolve().parents[2] / "shared" / "images" / "style" / "starry_night.jpg"
RUNS = ("independent", "temporal")


def camera_move(frames: int, size: int) -> list[np.ndarray]:
    """A window of 3:2 aspect, `size` px wide, panning right and zooming in slowly across the astronaut."""
    from skimage import data

    from stylejax.io import images

    photo = np.asarray(data.astronaut(), np.float32) / 255.0
    big = np.asarray(images.resize(photo, (2 * size, 2 * size)))
    clip = []
    for t in range(frames):
        zoom = 1.0 - 0.1 * t / max(1, frames - 1)  # the window shrinks by 10% over the clip
        w, h = round(1.4 * size * zoom), round(1.4 * size * zoom * 2 / 3)
        x, y = round(0.1 * size + 0.5 * size * t / max(1, frames - 1)), round(0.3 * size)
        clip.append(np.asarray(images.resize(big[y:y + h, x:x + w], (round(size * 2 / 3), size))))
    return clip


def settings_of(run: str, steps: int):
    import stylejax

    if run == "independent":
        return stylejax.VideoSettings(frame_steps=steps, temporal_weight=0.0, frame_init="content")
    return stylejax.VideoSettings(frame_steps=steps)


def measure(clip, style, config, settings) -> dict:
    """One run: its frames, warping error, style loss per later frame and seconds per frame."""
    import stylejax

    begin = time.perf_counter()
    frames = stylejax.stylize_video(clip, style, config, settings)
    seconds = time.perf_counter() - begin
    images = [f.image for f in frames]
    error = stylejax.temporal_error(images, clip)
    # The summary line's figure is the mean of the frames' own: the same function on the same frames.
    summary = np.mean([f.temporal_error for f in frames[1:]])
    assert np.isclose(error, summary, rtol=1e-6), (error, summary)
    return {"images": images, "error": error, "style": float(np.mean([f.losses["style"] for f in frames[1:]])),
            "seconds": seconds / len(frames)}


def measure_network(clip, style, config, model) -> dict:
    """Every frame through a trained style network: warping error, the style term of `config`'s objective
    per later frame (as the optimised runs report it), seconds per frame (compiled once, then timed)."""
    import jax

    import stylejax
    from stylejax.objective.targets import prepare

    net = jax.jit(stylejax.load_network(model))
    jax.block_until_ready(net(clip[0]))
    begin = time.perf_counter()
    images = [np.asarray(net(frame)) for frame in clip]
    seconds = (time.perf_counter() - begin) / len(clip)
    vgg = stylejax.load_vgg(config.model, pooling=config.pooling)
    styles = []
    for frame, image in zip(clip[1:], images[1:], strict=True):
        objective, objective_args, _ = prepare(vgg, frame, [style], config)
        styles.append(float(objective.terms(image, objective_args)["style"]))
    return {"images": images, "error": stylejax.temporal_error(images, clip), "style": float(np.mean(styles)),
            "seconds": seconds}


def table(results: dict) -> str:
    lines = ["| optimizer | run | warping error | vs independent | style loss per later frame | vs independent "
             "| s per frame |", "|---|---|---|---|---|---|---|"]
    for (optimizer, run), r in results.items():
        base = results.get((optimizer, "independent"))
        lower, ratio = ("", "") if base is None or base is r else (f"{base['error'] / r['error']:.1f}x lower",
                                                                   f"{r['style'] / base['style']:.2f}x")
        lines.append(f"| {optimizer} | {run} | {r['error']:.5f} | {lower} | {r['style']:.3g} | {ratio} "
                     f"| {r['seconds']:.3g} |")
    return "\n".join(lines)


def strip(clip, results: dict, optimizer: str, start: int, count: int) -> np.ndarray:
    """Rows content, independent, temporal; `count` consecutive frames from `start`."""
    rows = [clip] + [results[(optimizer, run)]["images"] for run in RUNS]
    picks = range(start, min(start + count, len(clip)))
    return np.concatenate([np.concatenate([row[i] for i in picks], axis=1) for row in rows], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--frames", type=int, default=14)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--steps", type=int, default=40, help="steps of every frame after the first")
    parser.add_argument("--optimizers", default="adam,lbfgs-fixed,lbfgs-backtrack")
    parser.add_argument("--style", default=None)
    parser.add_argument("--network", default=None, metavar="PATH",
                        help="also put every frame through this trained style network (`video --network`)")
    parser.add_argument("-o", "--output", default="video-results")
    args = parser.parse_args()

    import stylejax
    from stylejax.io import demo_images
    from stylejax.video import writing

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    clip = camera_move(args.frames, args.size)
    style_path = Path(args.style) if args.style else SHARED_STYLE
    style = stylejax.load_image(style_path) if style_path.is_file() else demo_images.stained_glass(512, 512)
    optimizers = [o for o in args.optimizers.split(",") if o]
    print(f"{len(clip)} frames of {clip[0].shape[1]}x{clip[0].shape[0]} at {args.fps} fps, {args.steps} steps "
          f"a later frame, style {style_path.name if style_path.is_file() else 'stained glass (demo)'}", flush=True)
    results = {}
    for optimizer in optimizers:
        config = stylejax.StyleConfig(size=args.size, optimizer=optimizer)
        for run in RUNS:
            results[(optimizer, run)] = r = measure(clip, style, config, settings_of(run, args.steps))
            print(f"  {optimizer} {run}: warping error {r['error']:.5f}, style {r['style']:.3g}, "
                  f"{r['seconds']:.1f} s/frame", flush=True)
            writing.write_video(out / f"{optimizer}_{run}.mp4", r["images"], fps=Fraction(args.fps))
    if args.network:
        results[("network", "per frame")] = r = measure_network(clip, style, stylejax.StyleConfig(size=args.size),
                                                                args.network)
        writing.write_video(out / "network.mp4", r["images"], fps=Fraction(args.fps))
    print("\n" + table(results))
    if optimizers:
        start = max(0, len(clip) // 2 - 2)
        stylejax.save_image(strip(clip, results, optimizers[0], start, 4), out / f"{optimizers[0]}_strip.jpg")
        print(f"\nstrip: frames {start}-{start + 3} of {optimizers[0]}; rows: content, {', '.join(RUNS)}")


if __name__ == "__main__":
    main()
