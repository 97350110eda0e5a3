"""`stylejax video`: the flags of a video run, and the call into `jobs.video`. No logic of its own."""

from __future__ import annotations

import argparse
import sys

from stylejax.autoencoder.settings import METHODS
from stylejax.cli.options import (
    FlagGroup,
    add_network_style_options,
    add_style_options,
    check_vgg_model,
    config_from_args,
    load_network_style,
    network_style,
    parse_floats,
    path_list,
    progress_bar,
)
from stylejax.errors import StyleJaxError
from stylejax.video.flow import PRESETS
from stylejax.video.settings import FRAME_INITS

# The optimised group's flags that say what the one-pass transfer paints too.
TRANSFER_STYLE_FLAGS = ("--style", "--style-blend", "--original-colors")


def add_parser(commands) -> None:
    """Adds the `video` subcommand to the `stylejax` parser's subcommands."""

    p = commands.add_parser("video", help="stylize a video, a folder of frames, or a folder of videos, "
                                          "with temporal consistency")
    p.add_argument("input", help="a video file (.mp4, .mov, .webm, ...), a folder of frames, or a folder of videos")
    p.add_argument("-o", "--output", required=True,
                   help="a video file, or a folder (of frames; of videos for a folder of videos)")
    p.add_argument("--network", default=None, metavar="PATH",
                   help="put every frame through this trained style network (a model folder from `stylejax train`) "
                        "instead of optimising it")
    add_network_style_options(p)
    p.add_argument("--method", choices=METHODS, default=None,
                   help="put every frame through the one-pass transfer with the --style paintings (any painting, "
                        "no training; adain or wct) instead of optimising it")
    one_pass = FlagGroup(p, "one-pass transfer", "with --method; refused without it")
    one_pass.add_argument("--alpha", type=float, default=None,
                          help="style strength in [0, 1]: 0 gives the frames through the autoencoder "
                               "(default: wct 0.6, adain 1.0)")
    one_pass.add_argument("--painting-colors", type=float, default=None, metavar="S",
                          help="in [0, 1]: how far the frames' colours move to the painting's colour mean and "
                               "covariance (default: adain 0.7, wct 0; 0 with --original-colors)")
    one_pass.add_argument("--decoders", default=None, metavar="DIR",
                          help="a decoders folder from `stylejax train-decoders` (default: the shipped decoders)")
    p.add_argument("--flow-preset", choices=PRESETS, default="medium",
                   help="OpenCV DIS optical-flow preset (%(default)s)")
    p.add_argument("--fps", type=float, default=None, help="sample the input at this rate (default: every frame)")
    p.add_argument("--start", type=float, default=0.0, help="seconds into the input to begin at (%(default)s)")
    p.add_argument("--duration", type=float, default=None, help="seconds of the input to stylize (default: all)")
    p.add_argument("--quality", type=int, default=18, help="x264 CRF of output videos, 0-51, lower is better "
                                                         "(%(default)s)")
    p.add_argument("--batch-size", type=int, default=8,
                   help="frames per batch: of different videos (optimised), or consecutive ones (--network, --method) "
                        "(%(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs, and start again over another run's saved frames")
    optimised = FlagGroup(p, "optimised video", "how frames are optimised; refused with --network and --method, "
                                                "whose frames are not optimised, but for the paintings: --style, "
                                                "--style-blend and --original-colors apply with --method")
    optimised.add_argument("--style", nargs="+", default=None,
                           help="style image(s) to optimise towards, or to transfer in one pass with --method")
    add_style_options(optimised, steps_flag="--first-steps", shared=p)
    optimised.add_argument("--steps", dest="frame_steps", type=int, default=50,
                           help="steps of every frame after the first, at full size (%(default)s)")
    optimised.add_argument("--temporal-weight", type=float, default=1000.0,
                           help="pull towards the previous output warped by the optical flow; 0: none (%(default)s)")
    optimised.add_argument("--frame-init", choices=FRAME_INITS, default="warped",
                           help="where a later frame starts (%(default)s); 'content' with --temporal-weight 0 "
                                "stylizes frames independently")
    optimised.add_argument("--frame-learning-rate", type=float, default=None,
                           help="learning rate of every frame after the first (default: adam a quarter of its "
                                "--learning-rate, as later frames start next to their optimum; the others their own)")
    optimised.add_argument("--masks", default=None,
                           help="one region mask per style, comma-separated: an image (every frame) or a folder of "
                                "frames (the i-th file for the i-th frame stylized); style i goes where mask i is "
                                "white")
    p.set_defaults(run=run, optimised_flags=optimised, one_pass_flags=one_pass,
                   flag_names={"steps": "--first-steps", "frame_steps": "--steps"})


def run(args: argparse.Namespace) -> int:
    from stylejax.io.images import load_image
    from stylejax.jobs.video import plan_jobs, run_video_jobs
    from stylejax.video.settings import VideoSettings

    if args.network is not None and args.method is not None:
        raise StyleJaxError("--network puts frames through a trained style network and --method through the "
                            "one-pass transfer: give one")
    if args.method is not None:  # frames through the one-pass transfer
        return run_transfer(args)
    refuse(args.one_pass_flags.given(args), "with --method (the one-pass transfer)")
    if args.network is not None:  # frames through a trained style network
        return run_network(args)
    load_network_style(args)  # refuses --network-style without --network
    check_vgg_model(args.model)
    if args.style is None:
        raise StyleJaxError("--style is required: the style images to optimise towards (or --network PATH, "
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
    """`stylejax video --network PATH`: every frame through the network, nothing optimised."""
    from stylejax.jobs.one_pass_video import run_network_video_jobs
    from stylejax.jobs.video import plan_jobs

    refuse(args.optimised_flags.given(args),
           "to optimised video: drop it with --network (a style network's frames are not optimised)")
    _check_video_flags(args)
    style = network_style(args)
    jobs = plan_jobs(args.input, args.output, overwrite=args.overwrite, start=args.start,
                     duration=args.duration, fps=args.fps)
    with progress_bar(sum(job.info.frame_count for job in jobs), "video", unit="frame") as bar:
        summaries = run_network_video_jobs(jobs, args.network, size=args.size, style=style,
                                           flow_preset=args.flow_preset, overwrite=args.overwrite,
                                           quality=args.quality, batch_size=args.batch_size,
                                           progress=frame_progress(bar, loss=False))
    report(args, summaries)
    return 0


def run_transfer(args: argparse.Namespace) -> int:
    """`stylejax video --method wct|adain --style S`: every frame through the one-pass transfer, nothing optimised."""
    from stylejax.autoencoder.settings import TransferSettings
    from stylejax.jobs.one_pass_video import run_transfer_video_jobs
    from stylejax.jobs.video import plan_jobs

    refuse([flag for flag in args.optimised_flags.given(args) if flag not in TRANSFER_STYLE_FLAGS],
           "to optimised video: drop it with --method (the one-pass transfer's frames are not optimised)")
    load_network_style(args)  # refuses --network-style without --network
    if args.style is None:
        raise StyleJaxError("--style is required with --method: the paintings to transfer")
    _check_video_flags(args)
    settings = TransferSettings(method=args.method, alpha=args.alpha, size=args.size,
                                style_blend=parse_floats(args.style_blend, "--style-blend"),
                                original_colors=args.original_colors, painting_colors=args.painting_colors)
    jobs = plan_jobs(args.input, args.output, overwrite=args.overwrite, start=args.start,
                     duration=args.duration, fps=args.fps)
    with progress_bar(sum(job.info.frame_count for job in jobs), "video", unit="frame") as bar:
        summaries = run_transfer_video_jobs(jobs, args.style, settings=settings, decoders=args.decoders,
                                            flow_preset=args.flow_preset, overwrite=args.overwrite,
                                            quality=args.quality, batch_size=args.batch_size,
                                            progress=frame_progress(bar, loss=False))
    report(args, summaries)
    return 0


def refuse(given: list[str], where: str) -> None:
    """Raises StyleJaxError naming the flags `given` that only apply `where` ("to optimised video: ...")."""
    if given:
        raise StyleJaxError(f"{', '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} {where}")


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
