"""`stylejax stylize`: the flags of one image's stylization, and the call into `stylize`. No logic of its own."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stylejax.cli.options import (
    add_network_style_options,
    add_style_options,
    check_vgg_model,
    compiling,
    config_from_args,
    load_network_style,
    path_list,
    progress_bar,
)
from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError


def add_parser(commands) -> None:
    """Adds the `stylize` subcommand to the `stylejax` parser's subcommands."""
    p = commands.add_parser("stylize", help="render a content image in the style of one or more paintings")
    p.add_argument("content", help="content image")
    p.add_argument("style", nargs="+", help="style image(s)")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, ...)")
    add_style_options(p, one_pass_init=True)
    p.add_argument("--masks", default=None,
                   help="one grayscale mask per style, comma-separated: style i goes where mask i is white "
                        "(the content's aspect ratio; pixels under no mask keep the content)")
    p.add_argument("--style-masks", default=None,
                   help="with --masks: per style, a mask of the part of the painting to take from, or 'none'")
    p.add_argument("--save-every", type=int, default=None,
                   help="also save the image every N steps of a scale and at the end of each scale")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), default=8,
                   help="bits per channel of the output; 16 needs a .png (%(default)s)")
    p.add_argument("--network", default=None, metavar="PATH",
                   help="start from this style network's output (a model folder from `stylejax train`) and "
                        "optimise at full size only: a refined result in a fraction of the steps (try --steps 20)")
    add_network_style_options(p)
    p.add_argument("--decoders", default=None, metavar="DIR",
                   help="with --init wct|adain: a decoders folder from `stylejax train-decoders` (default: the "
                        "shipped decoders)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the summary line (time, compile time, loss) in logs and pipes too, not only on a "
                        "terminal")
    p.set_defaults(run=run)


def _snapshot_steps(config: StyleConfig, every: int) -> list[int]:
    """The overall steps at which `--save-every` writes: every N steps within a scale, and each scale's end."""
    from stylejax.solve.scales import plan_scales

    steps, offset = [], 0
    for scale in plan_scales(config):
        steps += [offset + s for s in range(every, scale.steps, every)] + [offset + scale.steps]
        offset += scale.steps
    return steps[:-1]  # the last is the output itself


def run(args: argparse.Namespace) -> int:
    from stylejax.autoencoder.settings import METHODS, TransferSettings
    from stylejax.io import images
    from stylejax.network.refine import refine, refine_config
    from stylejax.network.transfer import load_transfer
    from stylejax.solve.scales import total_steps
    from stylejax.solve.stylize import stylize

    if args.save_every is not None and args.save_every <= 0:
        raise StyleJaxError(f"--save-every must be a positive number of steps, got {args.save_every}")
    check_vgg_model(args.model)
    config = config_from_args(args, **({"chunk_steps": args.save_every} if args.save_every else {}))
    net, weights = load_network_style(args)
    transfer_settings = None
    if args.init in METHODS:  # the start is the one-pass transfer's output
        if net is not None:
            raise StyleJaxError(f"--init {args.init} and --network are two starting points: give one")
        transfer_settings, config = TransferSettings(method=args.init), config.replace(init="content")
        net = load_transfer(args.decoders)
    elif args.decoders is not None:
        raise StyleJaxError("--decoders only applies with --init wct or --init adain (the one-pass transfer's start)")
    planned = config if net is None else refine_config(config)  # the scales `refine` runs: for the bar
    masks, style_masks = path_list(args.masks), path_list(args.style_masks)
    inputs = ((args.content, *args.style, *(masks or ()), *filter(None, style_masks or ()))
              + ((args.init,) if Path(args.init).suffix else ()))
    output = images.check_output(args.output, inputs=inputs, overwrite=args.overwrite)
    images.check_bit_depth(output, args.bit_depth)
    snapshots = []
    if args.save_every:
        snapshots = [output.with_name(f"{output.stem}_{s:05d}{output.suffix}")
                     for s in _snapshot_steps(planned, args.save_every)]
        for path in snapshots:
            images.check_output(path, inputs=inputs, overwrite=args.overwrite)
    written = []
    with progress_bar(total_steps(planned), "stylize") as bar:
        def report(step, image, history):
            bar.update(step - bar.n)
            bar.set_postfix(loss=f"{history[-1]:.4g}")
            snapshot = output.with_name(f"{output.stem}_{step:05d}{output.suffix}")
            if snapshot in snapshots:
                written.append(images.save_image(image, snapshot, bit_depth=args.bit_depth))

        def log(line):  # on a terminal, like the bar: logs and pipes get only errors
            if sys.stderr.isatty():
                bar.write(f"stylejax: {line}", file=sys.stderr)

        try:
            common = dict(masks=masks, style_masks=style_masks, callback=report, log=log,
                          on_scale=lambda scale: bar.set_description(scale.label))
            result = (stylize(args.content, args.style, config, **common) if net is None
                      else refine(args.content, args.style, net, config, model_style=weights,
                                  transfer_settings=transfer_settings, **common))
        except StyleJaxError:
            for path in written:  # a failed run leaves nothing behind
                path.unlink(missing_ok=True)
            raise
    images.save_image(result.image, output, bit_depth=args.bit_depth)
    if sys.stderr.isatty() or args.verbose:
        print(f"wrote {output} ({len(result.loss_history)} steps over {len(result.scales)} scales, "
              f"{result.evaluations} loss evaluations, {result.seconds:.1f} s{compiling(args)}, "
              f"loss {result.losses['total']:.4g})", file=sys.stderr)
    return 0
