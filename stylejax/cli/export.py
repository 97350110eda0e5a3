"""`stylejax export`: a trained network with one style (or mix) baked in, as a jax.export module or ONNX."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stylejax.cli.options import add_network_style_options, network_style
from stylejax.errors import StyleJaxError


def add_parser(commands) -> None:
    """Adds the `export` subcommand to the `stylejax` parser's subcommands."""
    p = commands.add_parser("export", help="write a trained network as a jax.export (StableHLO) module or an "
                            "ONNX model for serving")
    p.add_argument("network", metavar="NETWORK", help="a trained style network: a model folder from `stylejax train`")
    p.add_argument("-o", "--output", required=True,
                   help="the file to write: ONNX if it ends in .onnx (needs stylejax[onnx]), else jax.export")
    add_network_style_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stylejax.network.export import write_export
    from stylejax.network.function import load_network

    style = network_style(args)
    output = Path(args.output)
    if output.resolve() == Path(args.network).resolve() or output.is_dir():
        raise StyleJaxError(f"{output}: give a file name that is not the model folder")
    if not output.parent.is_dir():
        raise StyleJaxError(f"{output.parent}: no such folder for the output")
    net = load_network(args.network)
    style = net.style_weights(style)
    write_export(net, style, output)
    kind = "ONNX" if output.suffix.lower() == ".onnx" else "jax.export"
    print(f"wrote {output} ({kind}): images (b, h, w, 3) float32 in [0, 1], h and w multiples of 4 (>= 12)",
          file=sys.stderr)
    return 0
