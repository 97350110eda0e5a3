"""The `stylejax` command: one subcommand per module of this package, each a thin layer over the library."""

from __future__ import annotations

import sys

from stylejax.cli import (
    apply,
    batch,
    bench,
    demo,
    export,
    stylize,
    sweep,
    train,
    train_decoders,
    transfer,
    video,
    weights,
)
from stylejax.cli.flags import as_flags
from stylejax.cli.options import EXIT_USAGE, Parser
from stylejax.errors import StyleJaxError


def build_parser() -> Parser:
    parser = Parser(prog="stylejax", description="Neural style transfer (Gatys et al.) in JAX.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in (stylize, demo, batch, bench, video, sweep, weights, train, train_decoders, apply, transfer,
                    export):
        command.add_parser(commands)
    return parser


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)  # preemption stops like Ctrl-C: outputs stay whole
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed in one line
        return e.code
    try:
        if hasattr(args, "compile_cache"):  # the commands that optimise
            from stylejax.cli.compile_cache import CompileTimer, enable_compile_cache

            enable_compile_cache(args.compile_cache)
            with CompileTimer() as args.compile_timer:
                return args.run(args)
        return args.run(args)
    except StyleJaxError as e:
        print(f"stylejax: error: {as_flags(str(e), args)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("stylejax: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # disk full, permission changed mid-run: say so in one line
        print(f"stylejax: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
