"""`stylejax video`: the flags of a video run, and the call into `jobs.video`. No logic of its own."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stylejax.cli.options import (
    add_model_style_options,
    add_style_options,
    config_from_args,
    load_model_style,
    path_list,
    progress_bar,
    style_choice,
)
from stylejax.errors import StyleJaxError
from stylejax.video.flow import PRESETS
from stylejax.video.settings import FRAME_INITS


def add_parser(commands) -> None:
    """Adds the `video` subcommand to the `stylejax` parser's subcommands."""

    p = commands.add_parser("video", help="stylize a video, a folder of frames, or a folder of videos, "
                                          "with temporal consistency")
    p.add_argument("input", help="a video file (.mp4, .mov, .webm, ...), a folder of frames, or a folder of videos")
    p.add_argument("-o", "--output", required=True,
                   help="a video file, or a folder (of frames; of videos for a folder of videos)")
    p.add_argument("--style", nargs="+", default=None, help="style image(s) to optimise towards")
    add_style_options(p, steps_flag="--first-steps")
    p.add_argument("--steps", dest="frame_steps", type=int, default=50,
                   help="steps of every frame after the first, at full size (%(default)s)")
    p.add_argument("--temporal-weight", type=float, default=1000.0,
                   help="pull towards the previous output warped by the optical flow; 0: none (%(default)s)")
    p.add_argument("--frame-init", choices=FRAME_INITS, default="warped",
                   help="where a later frame starts (%(default)s); 'content' with --temporal-weight 0 "
                        "stylizes frames independently")
    p.add_argument("--flow-preset", choices=PRESETS, default="medium",
                   help="OpenCV DIS optical-flow preset (%(default)s)")
    p.add_argument("--frame-learning-rate", type=float, default=None,
                   help="learning rate of every frame after the first (default: adam a quarter of its "
                        "--learning-rate, as later frames start next to their optimum; the others their own)")
    p.add_argument("--fps", type=float, default=None, help="sample the input at this rate (default: every frame)")
    p.add_argument("--start", type=float, default=0.0, help="seconds into the input to begin at (%(default)s)")
    p.add_argument("--duration", type=float, default=None, help="seconds of the input to stylize (default: all)")
    p.add_argument("--quality", type=int, default=18, help="x264 CRF of output videos, 0-51, lower is better "
                                                         "(%(default)s)")
    p.add_argument("--batch-size", type=int, default=8, help="frames of different videos per batch (%(default)s)")
    p.add_argument("--masks", default=None,
                   help="one region mask per style, comma-separated: an image (every frame) or a folder of "
                        "frames (the i-th file for the i-th frame stylized); style i goes where mask i is white")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs, and start again over another run's saved frames")
    add_model_style_options(p)
    p.set_defaults(run=run, optimisation_defaults={dest: p.get_default(dest) for dest in OPTIMISATION_ONLY})


# The flags a style network's run has no use for: given with --model NETWORK, they are refused.
OPTIMISATION_ONLY = ("style", "steps", "frame_steps", "temporal_weight", "frame_init", "frame_learning_rate",
                     "min_size", "scale_factor", "ema_decay", "tile", "remat", "optimizer", "learning_rate",
                     "content_weight", "style_weight", "tv_weight", "content_layers", "style_layers",
                     "style_layer_weights", "style_blend", "style_scale", "init", "original_colors",
                     "color_transfer", "precision", "pooling", "model", "seed", "masks")
_FLAG_NAMES = {"steps": "--first-steps", "frame_steps": "--steps"}


def is_network_folder(model: str) -> bool:
    """Whether `--model` names a style network's folder (a path) rather than VGG weights (a bare name)."""
    return Path(model).is_dir() or os.sep in model or "/" in model


def _flag(dest: str) -> str:
    return _FLAG_NAMES.get(dest, "--" + dest.replace("_", "-"))


def run(args: argparse.Namespace) -> int:
    from stylejax.io.images import load_image
    from stylejax.jobs.video import plan_jobs, run_video_jobs
    from stylejax.video.settings import VideoSettings

    if is_network_folder(args.model):  # --model NETWORK: frames through a trained style network
        return run_network(args)
    load_model_style(args, None, "--model NETWORK")  # refuses --model-style without a network
    if args.style is None:
        raise StyleJaxError("--style is required: the style images to optimise towards (or --model NETWORK, "
                            "a style network's folder)")
    config = config_from_args(args)
    settings = VideoSettings(frame_steps=args.frame_steps, temporal_weight=args.temporal_weight,
                             frame_init=args.frame_init, flow_preset=args.flow_preset,
                             frame_learning_rate=args.frame_learning_rate)
    _check_video_flags(args)
    for style in args.style:  # a bad style image is a usage error, before any work
        load_image(style)
    jobs = plan_jobs(args.input, args.output, overwrite=args.overwrite, start=args.start,
                     duration=args.duration, fps=args.fps)
    with progress_bar(sum(job.info.frame_count for job in jobs), "video", unit="frame") as bar:
        progress = frame_progress(bar, loss=True)

        def log(line):  # on a terminal, like the bar: logs and pipes get only errors
            if sys.stderr.isatty():
                bar.write(f"stylejax: {line}", file=sys.stderr)

        summaries = run_video_jobs(jobs, args.style, config, settings, overwrite=args.overwrite,
                                   quality=args.quality, batch_size=args.batch_size, progress=progress, log=log,
                                   on_chunk=lambda step, steps: bar.set_description(f"video (step {step}/{steps})"),
                                   masks=path_list(args.masks))
    report(args, summaries)
    return 0


def frame_progress(bar, *, loss: bool):
    """A video job's progress callback `(done, total, frame)` moving `bar`: the warping error, and the loss
    when frames are optimised."""

    def progress(done, total, frame):
        bar.total = total
        bar.update(done - bar.n)
        if frame is not None and frame.temporal_error is not None:
            bar.set_postfix(({"loss": f"{frame.losses['total']:.4g}"} if loss else {})
                            | {"warp": f"{frame.temporal_error:.2g}"})
    return progress


def run_network(args: argparse.Namespace) -> int:
    """`stylejax video --model NETWORK`: every frame through the network, nothing optimised."""
    from stylejax.jobs.network_video import run_network_video_jobs
    from stylejax.jobs.video import plan_jobs

    network, args.model = args.model, args.optimisation_defaults["model"]  # --model named the network
    given = [_flag(dest) for dest, default in args.optimisation_defaults.items() if getattr(args, dest) != default]
    if given:
        raise StyleJaxError(f"{', '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} to optimised video: "
                            "drop it with --model NETWORK (a style network's frames are not optimised)")
    _check_video_flags(args)
    style = style_choice(args.model_style, args.model_style_mix, "--model-style", "--model-style-mix")
    jobs = plan_jobs(args.input, args.output, overwrite=args.overwrite, start=args.start,
                     duration=args.duration, fps=args.fps)
    with progress_bar(sum(job.info.frame_count for job in jobs), "video", unit="frame") as bar:
        summaries = run_network_video_jobs(jobs, network, size=args.size, style=style,
                                           flow_preset=args.flow_preset, overwrite=args.overwrite,
                                           quality=args.quality, batch_size=args.batch_size,
                                           progress=frame_progress(bar, loss=False))
    report(args, summaries)
    return 0


def _check_video_flags(args: argparse.Namespace) -> None:
    if not 0 <= args.quality <= 51:
        raise StyleJaxError(f"--quality must be an x264 CRF from 0 to 51, got {args.quality}")
    if args.fps is not None and not 0 < args.fps <= 1000:
        raise StyleJaxError(f"--fps must be a rate above 0 and at most 1000 frames a second, got {args.fps}")


def report(args: argparse.Namespace, summaries) -> None:
    """Each output's summary line: frames, time, the warping error and (optimised) the style loss."""
    stylized = sum(s.frames for s in summaries)
    for s in summaries:  # frame t of every video ran in one batch: the time is the run's, per frame of all
        figures = [f"{s.frames} frames stylized" + (f", {s.resumed} resumed" if s.resumed else "")]
        if s.frames:
            figures.append(f"{s.seconds / stylized:.1f} s/frame")
        if getattr(args, "compile_timer", None) is not None:
            figures.append(f"the run compiled for {args.compile_timer.seconds:.1f} s")
        if s.temporal_error is not None:
            figures.append(f"warping error {s.temporal_error:.3g}")
        if s.style_loss is not None:
            figures.append(f"style loss {s.style_loss:.3g}")
        print(f"wrote {s.output} ({', '.join(figures)})", file=sys.stderr)
