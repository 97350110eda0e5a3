"""`stylejax apply`: images through a trained style network; a file to a file, or a folder or list to a folder."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from stylejax.cli.options import add_network_style_options, network_style, progress_bar
from stylejax.errors import StyleJaxError


def add_parser(commands) -> None:
    """Adds the `apply` subcommand to the `stylejax` parser's subcommands."""
    p = commands.add_parser("apply", help="stylize images with a trained style network (one forward pass each)")
    p.add_argument("network", metavar="NETWORK", help="a trained style network: a model folder from `stylejax train`")
    p.add_argument("input", nargs="+", help="an image file, a folder of images, or a text file listing images")
    p.add_argument("-o", "--output", required=True, help="the output file (one image in) or folder")
    p.add_argument("--size", type=int, default=None,
                   help="long side of the outputs (default: each input's, shrunk where it does not fit)")
    add_network_style_options(p)
    p.add_argument("--batch-size", type=int, default=8,
                   help="images of one shape bucket per forward pass, fewer where memory is short (%(default)s)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster, as `stylejax batch --ray` (then put --ray after the inputs)")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray workers (default: one per GPU, or one per node on a CPU cluster)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stylejax.io.images import check_output, check_output_dir, load_image, save_image
    from stylejax.jobs.apply import apply_to_image, run_apply_fleet, run_apply_job
    from stylejax.jobs.inputs import collect_inputs
    from stylejax.network.function import load_network

    style = network_style(args)
    if args.ray is None and args.workers is not None:
        raise StyleJaxError("--workers is the size of a Ray fleet: it needs --ray")
    net = load_network(args.network)
    style = net.style_weights(style)
    sources = [Path(s) for s in args.input]
    output = Path(args.output)
    if any(output.resolve() == s.resolve() for s in sources):
        raise StyleJaxError(f"{output}: the output is one of the inputs: give another -o")
    start = time.perf_counter()
    if len(sources) == 1 and sources[0].is_file() and output.suffix and not output.is_dir() \
            and sources[0].suffix.lower() != ".txt" and args.ray is None:
        check_output(output, inputs=(sources[0],), overwrite=True)
        save_image(apply_to_image(net, load_image(sources[0]), args.size, style), output)
        print(f"wrote {output} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
        return 0
    outdir = check_output_dir(output)
    items = [item for source in sources for item in
             (collect_inputs(source, outdir) if source.is_dir() or source.suffix.lower() == ".txt"
              else collect_inputs_file(source))]
    if not items:
        raise StyleJaxError(f"no images in {', '.join(map(str, sources))}")
    with progress_bar(len(items), "apply", unit="img") as bar:
        progress = lambda done, total: bar.update(done - bar.n)  # noqa: E731
        if args.ray is not None:  # the driver of a Ray fleet: workers load the model
            summary = run_apply_fleet(items, args.network, outdir, size=args.size, style=style,
                                      batch_size=args.batch_size, address=args.ray or None, workers=args.workers,
                                      progress=progress)
        else:
            summary = run_apply_job(items, net, outdir, size=args.size, style=style, batch_size=args.batch_size,
                                    progress=progress)
    print(f"{summary.done} done, {summary.skipped} already there, {len(summary.failed)} failed "
          f"({time.perf_counter() - start:.1f} s; manifest: {outdir / 'manifest.jsonl'})", file=sys.stderr)
    for name, error in summary.failed:
        print(f"failed: {name}: {error}", file=sys.stderr)
    return 1 if summary.failed else 0


def collect_inputs_file(source: Path):
    """One image file given among several inputs: an item named by its file name."""
    from stylejax.jobs.inputs import Item

    if not source.exists():
        raise StyleJaxError(f"{source}: no such file or folder")
    return [Item(source, source.name)]
