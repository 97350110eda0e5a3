"""Video: independent frames against temporal stylization (Ruder et al. 2016) on a clip with real motion.

    python benchmarks/video.py [--size 256] [--seconds 2] [--fps 12] [--steps 50] [--style PATH] [-o DIR]

The clip is a camera move made here: a window panning and slowly zooming across scikit-image's astronaut
photo. Both runs give the first frame the default coarse-to-fine schedule and every later frame --steps
steps; "independent" is `--temporal-weight 0 --frame-init content` (each frame starts from its content),
"temporal" the defaults (start from the previous output warped by the flow, pulled towards it).
Measured: the warping error (stylejax.temporal_error: mean squared difference between output t and
output t-1 warped by the content's flow, over reliable pixels), the style loss per later frame, and
seconds per frame (compilation included). Writes a frame strip of both runs and both clips.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

SHARED_STYLE = Path(__file__).resolve().parents[2] / "shared" / "images" / "style" / "starry_night.jpg"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--steps", type=int, default=50, help="steps of every frame after the first")
    parser.add_argument("--style", default=None)
    parser.add_argument("-o", "--output", default="video-results")
    args = parser.parse_args()

    import stylejax
    from stylejax.io import demo_images
    from stylejax.video import writing

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    clip = camera_move(round(args.seconds * args.fps), args.size)
    style_path = Path(args.style) if args.style else SHARED_STYLE
    style = stylejax.load_image(style_path) if style_path.is_file() else demo_images.stained_glass(512, 512)
    config = stylejax.StyleConfig(size=args.size)
    runs = {"independent": stylejax.VideoSettings(frame_steps=args.steps, temporal_weight=0.0, frame_init="content"),
            "temporal": stylejax.VideoSettings(frame_steps=args.steps)}
    print(f"{len(clip)} frames of {clip[0].shape[1]}x{clip[0].shape[0]} at {args.fps} fps, {args.steps} steps "
          "a later frame\n")
    print("| run | warping error | style loss per frame | s per frame |")
    print("|---|---|---|---|")
    results = {}
    for name, settings in runs.items():
        begin = time.perf_counter()
        frames = stylejax.stylize_video(clip, style, config, settings)
        seconds = time.perf_counter() - begin
        results[name] = [f.image for f in frames]
        error = stylejax.temporal_error(results[name], clip)
        style_loss = np.mean([f.losses["style"] for f in frames[1:]])
        print(f"| {name} | {error:.5f} | {style_loss:.3g} | {seconds / len(frames):.1f} |", flush=True)
        writing.write_video(out / f"{name}.mp4", results[name], fps=Fraction(args.fps))
    picks = np.linspace(0, len(clip) - 1, 5).round().astype(int)
    rows = {"content": clip, **results}
    strip = np.concatenate([np.concatenate([rows[name][i] for i in picks], axis=1) for name in rows], axis=0)
    stylejax.save_image(strip, out / "strip.png")
    print(f"\nstrip: frames {', '.join(map(str, picks))}; rows: {', '.join(rows)}")


if __name__ == "__main__":
    main()
