"""`stylejax batch`: the flags of a bulk job, and the call into `jobs` (one host or `--distributed`) or
`fleet` (`--ray`). No logic of its own."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from stylejax.cli.options import (
    add_distributed_options,
    add_style_options,
    compiling,
    config_from_args,
    init_distributed,
    progress_bar,
)
from stylejax.errors import StyleJaxError


def add_parser(commands) -> None:
    """Adds the `batch` subcommand to the `stylejax` parser's subcommands."""

    p = commands.add_parser("batch", help="stylize a directory or list of images, resumably, on all devices")
    p.add_argument("input", help="a directory of images, or a text file with one image path per line")
    p.add_argument("--style", nargs="+", required=True, help="style image(s)")
    p.add_argument("-o", "--output", required=True, help="output directory (mirrors the input's layout)")
    p.add_argument("--batch-size", type=int, default=8, help="images per batch across local devices (%(default)s)")
    p.add_argument("--vmap-size", type=int, default=None,
                   help="images per device optimised in lockstep (default: 1 on CPU, the whole batch on GPU/TPU); "
                        "smaller needs less device memory")
    p.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints (%(default)s)")
    p.add_argument("--masks-dir", default=None,
                   help="region masks: a folder per style, named by the style file's stem, mirroring the input "
                        "folder with one mask per image (style i goes where its mask is white)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster: auto (the one this machine is in), HOST:PORT, or no address to "
                        "start a local one (then put --ray after the input); batches go to whichever worker is "
                        "free, a dead worker's batch is retried")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray workers (default: one per GPU, or one per node on a CPU cluster)")
    add_distributed_options(p, "a fixed share of the inputs per host")
    add_style_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import functools

    import jax

    from stylejax.io.images import check_output_dir, load_image
    from stylejax.jobs.batch import run_job
    from stylejax.jobs.inputs import collect_inputs, my_share

    if args.ray is not None and (args.distributed or args.coordinator_address):
        raise StyleJaxError("--ray and --distributed are two ways to run on many machines: give one")
    if args.ray is None and args.workers is not None:
        raise StyleJaxError("--workers is the size of a Ray fleet: it needs --ray")
    init_distributed(args)

    if args.checkpoint_every <= 0:
        raise StyleJaxError(f"--checkpoint-every must be a positive number of steps, got {args.checkpoint_every}")
    config = config_from_args(args, chunk_steps=args.checkpoint_every)
    for style in args.style:  # a bad style image is a usage error, before any work
        load_image(style)
    outdir = check_output_dir(args.output)
    if args.ray is not None:  # the driver of a Ray fleet: every input, handed out batch by batch
        from stylejax.jobs.fleet import run_fleet

        items = collect_inputs(args.input, outdir)
        run = functools.partial(run_fleet, address=args.ray or None, workers=args.workers)
    else:  # this process's share (all of it on one host)
        items = my_share(collect_inputs(args.input, outdir), jax.process_index(), jax.process_count())
        run = run_job
    start = time.perf_counter()
    with progress_bar(len(items), "batch", unit="img") as bar:
        summary = run(items, args.style, outdir, config, batch_size=args.batch_size,
                      masks_dir=None if args.masks_dir is None else Path(args.masks_dir),
                      vmap_size="auto" if args.vmap_size is None else args.vmap_size,
                      progress=lambda done, total: bar.update(done - bar.n))
    print(f"{summary.done} done, {summary.skipped} already there, {len(summary.failed)} failed "
          f"({time.perf_counter() - start:.1f} s{'' if args.ray is not None else compiling(args)}; "  # workers compile
          f"manifest: {outdir / 'manifest.jsonl'})",
          file=sys.stderr)
    for name, error in summary.failed:
        print(f"failed: {name}: {error}", file=sys.stderr)
    return 1 if summary.failed else 0


