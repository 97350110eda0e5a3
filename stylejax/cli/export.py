"""`stylejax export`: a trained network with one style (or mix) baked in, or the one-pass transfer (`--transfer`,
the painting an input), as a jax.export module or ONNX."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stylejax.autoencoder.settings import METHODS, TransferSettings
from stylejax.autoencoder.transforms import SQRT_METHODS
from stylejax.cli.options import FlagGroup, add_network_style_options, network_style
from stylejax.errors import StyleJaxError


def add_parser(commands) -> None:
    """Adds the `export` subcommand to the `stylejax` parser's subcommands."""
    p = commands.add_parser("export", help="write a trained network, or the one-pass transfer, as a jax.export "
                            "(StableHLO) module or an ONNX model for serving")
    p.add_argument("network", metavar="NETWORK", nargs="?", default=None,
                   help="a trained style network: a model folder from `stylejax train` (not with --transfer)")
    p.add_argument("-o", "--output", required=True,
                   help="the file to write: ONNX if it ends in .onnx (needs stylejax[onnx]), else jax.export")
    add_network_style_options(p)
    p.add_argument("--transfer", action="store_true",
                   help="export the one-pass transfer instead of a network: its inputs are the photos, the painting "
                        "(any style at serving time) and alpha")
    one_pass = FlagGroup(p, "one-pass transfer", "with --transfer; refused without it")
    one_pass.add_argument("--method", choices=METHODS, default=TransferSettings().method, help="(%(default)s)")
    one_pass.add_argument("--sqrt", choices=SQRT_METHODS, default=None,
                          help="the matrix square roots of WCT and the painting colours (default: eigh for "
                               "jax.export, newton_schulz for ONNX, which has no eigendecomposition)")
    one_pass.add_argument("--levels", default=None, metavar="L1,L2,...",
                          help="the levels to run, e.g. relu4_1,relu1_1 (default: the method's among the decoders'; "
                               "ONNX takes one level, or the deepest and relu1_1)")
    one_pass.add_argument("--decoders", default=None, metavar="DIR",
                          help="a decoders folder from `stylejax train-decoders` (default: the shipped decoders)")
    p.set_defaults(run=run, one_pass_flags=one_pass)


def run(args: argparse.Namespace) -> int:
    from stylejax.network.export import write_export
    from stylejax.network.function import load_network

    if args.transfer:
        return run_transfer(args)
    given = args.one_pass_flags.given(args)
    if given:
        raise StyleJaxError(f"{', '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} with --transfer "
                            "(the one-pass transfer)")
    if args.network is None:
        raise StyleJaxError("give the NETWORK folder to export, or --transfer for the one-pass transfer")
    style = network_style(args)
    output = _check_output(args.output, args.network)
    net = load_network(args.network)
    style = net.style_weights(style)
    write_export(net, style, output)
    print(f"wrote {output} ({_kind(output)}): images (b, h, w, 3) float32 in [0, 1], h and w multiples of 4 (>= 12)",
          file=sys.stderr)
    return 0


def run_transfer(args: argparse.Namespace) -> int:
    """`stylejax export --transfer`: the one-pass transfer, the painting and alpha inputs."""
    from stylejax.network.export import transfer_export_settings, write_transfer_export
    from stylejax.network.transfer import load_transfer

    if args.network is not None:
        raise StyleJaxError(f"--transfer exports the one-pass transfer and {args.network} is a style network: "
                            "give one")
    if network_style(args) is not None:
        raise StyleJaxError("--network-style and --network-style-mix choose a style network's style: drop them "
                            "with --transfer (the painting is an input)")
    output = _check_output(args.output, args.decoders)
    settings = transfer_export_settings(output, args.method, args.sqrt, args.levels)
    transfer = load_transfer(args.decoders)
    cascade, _ = transfer.cascade(settings)
    write_transfer_export(transfer, settings, output)
    method = settings.method + (f", painting colours {settings.painting_colors:g}" if settings.painting_colors else "")
    if settings.method == "wct" or settings.painting_colors:
        method += f" by {settings.sqrt}"
    print(f"wrote {output} ({_kind(output)}, {method}): photos (b, h, w, 3) float32 in [0, 1], h and w multiples "
          f"of {cascade.stride} (>= {cascade.min_side}); painting (h', w', 3) float32 in [0, 1], sides >= "
          f"{cascade.min_side}; alpha () float32 in [0, 1]", file=sys.stderr)
    return 0


def _check_output(output: str, folder: str | None) -> Path:
    output = Path(output)
    if (folder is not None and output.resolve() == Path(folder).resolve()) or output.is_dir():
        raise StyleJaxError(f"{output}: give a file name that is not a folder")
    if not output.parent.is_dir():
        raise StyleJaxError(f"{output.parent}: no such folder for the output")
    return output


def _kind(output: Path) -> str:
    return "ONNX" if output.suffix.lower() == ".onnx" else "jax.export"
