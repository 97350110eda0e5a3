"""`stylejax transfer`: photos stylized with any painting in one pass (encoder, feature transform, decoders);
a file to a file, or a folder or list to a folder as a bulk job, as `stylejax apply`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from stylejax.cli.image_jobs import add_image_job_options, job_inputs, one_image, report_written, run_image_job
from stylejax.cli.options import parse_floats, path_list
from stylejax.errors import StyleJaxError


def add_parser(commands) -> None:
    """Adds the `transfer` subcommand to the `stylejax` parser's subcommands."""
    from stylejax.autoencoder.settings import (
        DEFAULT_ALPHA,
        DEFAULT_LEVELS,
        DEFAULT_PAINTING_COLORS,
        METHODS,
        TransferSettings,
    )
    from stylejax.autoencoder.transforms import SQRT_METHODS
    from stylejax.nn.decoders import LEVELS

    d = TransferSettings()
    p = commands.add_parser("transfer", help="stylize photos with any painting in one pass (WCT or AdaIN through "
                                             "trained decoders; no training per style)")
    p.add_argument("content", nargs="+", metavar="CONTENT",
                   help="a photo, a folder of photos, or a text file listing photos")
    p.add_argument("--style", nargs="+", required=True, metavar="PAINTING", help="style image(s)")
    add_image_job_options(p)
    p.add_argument("--style-size", type=int, default=None,
                   help="long side the style images are resized to (default: --size, else each output's)")
    p.add_argument("--method", choices=METHODS, default=d.method,
                   help="adain: each channel's mean and deviation at one level, by a decoder trained for it; "
                        "wct: the painting's feature mean and covariance, level after level (%(default)s)")
    p.add_argument("--alpha", type=float, default=None,
                   help="style strength in [0, 1]: 0 gives the photo through the autoencoder (default: "
                        + ", ".join(f"{m} {a}" for m, a in DEFAULT_ALPHA.items()) + ")")
    p.add_argument("--levels", nargs="+", default=None, metavar="LEVEL",
                   help=f"the VGG levels transformed and decoded, of {', '.join(LEVELS)} (default: "
                        + "; ".join(f"{m} {' '.join(levels)}" for m, levels in DEFAULT_LEVELS.items())
                        + ", among those the decoders have)")
    p.add_argument("--sqrt", choices=SQRT_METHODS, default=d.sqrt,
                   help="the matrix square roots of WCT and the painting colours (%(default)s)")
    p.add_argument("--style-blend", default=None, metavar="W1,W2,...",
                   help="one weight per style image, comma-separated (default: equal)")
    p.add_argument("--masks", default=None, metavar="MASK,MASK,...",
                   help="one image: one grayscale mask per style, comma-separated: style i goes where mask i is "
                        "white (the photo's aspect ratio)")
    p.add_argument("--masks-dir", default=None,
                   help="a folder of photos: a folder per style, named by the style file's stem, mirroring the "
                        "input folder with one mask per photo (as `stylejax batch --masks-dir`)")
    p.add_argument("--original-colors", action="store_true", help="keep the photo's colours (luminance only)")
    p.add_argument("--painting-colors", type=float, default=None, metavar="S",
                   help="in [0, 1]: how far the colours move to the painting's colour mean and covariance "
                        "(default: " + ", ".join(f"{m} {v}" for m, v in DEFAULT_PAINTING_COLORS.items())
                        + "; 0 with --original-colors)")
    p.add_argument("--decoders", default=None, metavar="DIR",
                   help="a decoders folder from `stylejax train-decoders` (default: the ones stylejax ships)")
    p.set_defaults(run=run, flag_names={"content": "CONTENT", "level": "--levels"})


def run(args: argparse.Namespace) -> int:
    from stylejax.autoencoder.settings import TransferSettings
    from stylejax.io.images import check_output, check_output_dir, load_image, save_image
    from stylejax.jobs.transfer import run_transfer_fleet, run_transfer_job, transfer_image
    from stylejax.network.transfer import load_transfer

    settings = TransferSettings(method=args.method, alpha=args.alpha,
                                levels=None if args.levels is None else tuple(args.levels), sqrt=args.sqrt,
                                style_blend=parse_floats(args.style_blend, "--style-blend"),
                                original_colors=args.original_colors, painting_colors=args.painting_colors,
                                size=args.size, style_size=args.style_size)
    sources, output = [Path(s) for s in args.content], Path(args.output)
    single = one_image(args, sources)
    masks = path_list(args.masks)
    if single and args.masks_dir is not None:
        raise StyleJaxError("--masks-dir holds a folder's masks: for one photo give --masks")
    if not single and masks is not None:
        raise StyleJaxError("--masks are one photo's regions: for a folder of photos give --masks-dir")
    for style in args.style:  # a bad style image is a usage error, before any work
        load_image(style)
    transfer = load_transfer(args.decoders)
    start = time.perf_counter()
    if single:
        check_output(output, inputs=(sources[0], *args.style, *(masks or ())), overwrite=True)
        image = transfer_image(transfer, load_image(sources[0]), args.style, settings=settings, masks=masks)
        save_image(image, output)
        return report_written(output, start)
    outdir = check_output_dir(output)
    items = job_inputs(sources, outdir)
    masks_dir = None if args.masks_dir is None else Path(args.masks_dir)
    if args.ray is not None:  # the driver of a Ray fleet: workers load the decoders
        return run_image_job("transfer", len(items), outdir, lambda progress: run_transfer_fleet(
            items, args.decoders, args.style, outdir, settings=settings, masks_dir=masks_dir,
            batch_size=args.batch_size, address=args.ray or None, workers=args.workers, progress=progress), start)
    return run_image_job("transfer", len(items), outdir, lambda progress: run_transfer_job(
        items, transfer, args.style, outdir, settings=settings, masks_dir=masks_dir, batch_size=args.batch_size,
        progress=progress), start)
