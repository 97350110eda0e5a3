"""`stylejax sweep`: the flags of a style-weight grid, and the call into `sweep`. No logic of its own."""

from __future__ import annotations

import argparse
import sys

from stylejax.cli.options import add_style_options, compiling, config_from_args, parse_floats, progress_bar
from stylejax.errors import StyleJaxError


def add_parser(commands) -> None:
    """Adds the `sweep` subcommand to the `stylejax` parser's subcommands."""

    p = commands.add_parser("sweep", help="stylize one image at a grid of style (and content) weights, as one "
                                          "batch, and write a labelled contact sheet")
    p.add_argument("content", help="content image")
    p.add_argument("style", nargs="+", help="style image(s)")
    p.add_argument("--style-weights", required=True, help="comma-separated, e.g. 1e2,1e3,1e4: the sheet's columns")
    p.add_argument("--content-weights", default=None,
                   help="comma-separated: the sheet's rows (default: --content-weight alone)")
    p.add_argument("-o", "--output", required=True, help="output directory: sheet.png and one image per cell")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_style_options(p)
    p.set_defaults(size=256, run=run)


def _weights(text: str | None, flag: str) -> list[float] | None:

    values = parse_floats(text, flag)
    if values is not None and not values:
        raise StyleJaxError(f"{flag} needs at least one number")
    return None if values is None else list(values)


def run(args: argparse.Namespace) -> int:
    from stylejax.io import images
    from stylejax.solve.scales import total_steps
    from stylejax.solve.sweep import cell_label, sweep, sweep_sheet

    config = config_from_args(args)
    style_weights = _weights(args.style_weights, "--style-weights")
    content_weights = _weights(args.content_weights, "--content-weights") or [config.content_weight]
    for weight in style_weights + content_weights:  # a bad weight is refused before any work
        config.replace(style_weight=weight, content_weight=weight)
    out = images.check_output_dir(args.output)
    cells = [(c, s) for c in content_weights for s in style_weights]
    paths = {cell: out / (cell_label(*cell).replace(", ", "_").replace(" ", "-") + ".png") for cell in cells}
    sheet_path = out / "sheet.png"
    inputs = (args.content, *args.style)
    if out.is_dir():
        for path in [sheet_path, *paths.values()]:
            images.check_output(path, inputs=inputs, overwrite=args.overwrite)
    elif not out.absolute().parent.is_dir():
        raise StyleJaxError(f"{out.parent}: output directory does not exist: create it first")
    with progress_bar(total_steps(config), "sweep") as bar:
        result = sweep(args.content, args.style, config, style_weights=style_weights,
                       content_weights=content_weights,
                       on_chunk=lambda done, total: bar.update(done - bar.n))
    out.mkdir(parents=True, exist_ok=True)
    for cell, image in zip(result.cells, result.images, strict=True):
        images.save_image(image, paths[cell])
    images.save_image(sweep_sheet(result, height=min(config.size, 256)), sheet_path)
    print(f"wrote {sheet_path} and {len(cells)} images ({result.seconds:.1f} s{compiling(args)})", file=sys.stderr)
    return 0
