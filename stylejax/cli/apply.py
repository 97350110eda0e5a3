"""`stylejax apply`: images through a trained style network; a file to a file, or a folder or list to a folder."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from stylejax.cli.image_jobs import add_image_job_options, job_inputs, one_image, report_written, run_image_job
from stylejax.cli.options import add_network_style_options, network_style


def add_parser(commands) -> None:
    """Adds the `apply` subcommand to the `stylejax` parser's subcommands."""
    p = commands.add_parser("apply", help="stylize images with a trained style network (one forward pass each)")
    p.add_argument("network", metavar="NETWORK", help="a trained style network: a model folder from `stylejax train`")
    p.add_argument("input", nargs="+", help="an image file, a folder of images, or a text file listing images")
    add_image_job_options(p)
    add_network_style_options(p)
    p.add_argument("--runtime", choices=("jax", "onnx"), default="jax",
                   help="jax: XLA on this machine's device; onnx: the network converted to ONNX once (a few "
                        "seconds) and run by onnxruntime on the CPU, no faster than jax at 512 px on the 2-core CPU of "
                        "docs/network.md; needs pip install 'stylejax[onnx]' (%(default)s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stylejax.io.images import check_output, check_output_dir, load_image, save_image
    from stylejax.jobs.apply import apply_to_image, run_apply_fleet, run_apply_job
    from stylejax.network.function import load_network

    style = network_style(args)
    sources, output = [Path(s) for s in args.input], Path(args.output)
    single = one_image(args, sources)
    net = load_network(args.network)
    style = net.style_weights(style)
    start = time.perf_counter()
    if single:
        check_output(output, inputs=(sources[0],), overwrite=True)
        save_image(apply_to_image(net, load_image(sources[0]), args.size, style, runtime=args.runtime), output)
        return report_written(output, start)
    outdir = check_output_dir(output)
    items = job_inputs(sources, outdir)
    if args.ray is not None:  # the driver of a Ray fleet: workers load the model
        return run_image_job("apply", len(items), outdir, lambda progress: run_apply_fleet(
            items, args.network, outdir, size=args.size, style=style, batch_size=args.batch_size,
            runtime=args.runtime, address=args.ray or None, workers=args.workers, progress=progress), start)
    return run_image_job("apply", len(items), outdir, lambda progress: run_apply_job(
        items, net, outdir, size=args.size, style=style, batch_size=args.batch_size, runtime=args.runtime,
        progress=progress), start)
