"""What the commands share: the one-line usage-error parser, the StyleConfig flags, progress bars."""

from __future__ import annotations

import argparse

from stylejax.config import COLOR_TRANSFERS, DEFAULT_MIN_SIZE, PRECISIONS, StyleConfig
from stylejax.errors import StyleJaxError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not usage text plus a line."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"stylejax: error: {message} (see `{self.prog} --help`)\n")


def add_style_options(p: argparse.ArgumentParser | FlagGroup, optimisation: bool = True, steps_flag: str = "--steps",
                      shared: argparse.ArgumentParser | None = None, one_pass_init: bool = False) -> None:
    """The flags of every StyleConfig field; `steps_flag` names the flag of the steps per scale. `shared`:
    where `--size` and `--compile-cache` go when `p` is a group of flags another mode of the command refuses.
    `one_pass_init`: `--init` also takes wct or adain (the command starts from the one-pass transfer's output)."""
    d = StyleConfig()
    shared = shared or p
    shared.add_argument("--size", type=int, default=d.size, help="longest side of the output in pixels (%(default)s)")
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
        shared.add_argument("--compile-cache", default=None, metavar="DIR|off",
                            help="JAX's persistent compilation cache: a re-run with the same shapes loads its "
                                 "compiled programs instead of compiling (default: $JAX_COMPILATION_CACHE_DIR, else "
                                 "$XDG_CACHE_HOME/stylejax/xla or ~/.cache/stylejax/xla)")
    p.add_argument("--content-weight", type=float, default=d.content_weight, help="(%(default)s)")
    p.add_argument("--style-weight", type=float, default=d.style_weight, help="(%(default)s)")
    p.add_argument("--tv-weight", type=float, default=d.tv_weight, help="total-variation weight (%(default)s)")
    p.add_argument("--content-layers", default=",".join(d.content_layers), help="(%(default)s)")
    p.add_argument("--style-layers", default=",".join(d.style_layers), help="(%(default)s)")
    p.add_argument("--style-layer-weights", default=None, help="one weight per style layer, comma-separated")
    p.add_argument("--style-blend", default=None, help="one weight per style image, comma-separated")
    p.add_argument("--style-scale", type=float, default=d.style_scale, help="style size / output size (%(default)s)")
    p.add_argument("--init", default=d.init,
                   help=("content, noise, an image path, or wct or adain: the one-pass transfer's output with the "
                         "style images, optimised at full size only (try --steps 20)" if one_pass_init else
                         "content, noise, or an image path") + " (%(default)s)")
    p.add_argument("--original-colors", action="store_true",
                   help="keep the content image's colours: transfer luminance only, after optimising")
    p.add_argument("--color-transfer", choices=COLOR_TRANSFERS, default=d.color_transfer,
                   help="before optimising, give the style images the content's colours: per-channel histograms "
                        "or mean and covariance in CIELAB (%(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                   help="VGG and Gram arithmetic: bf16 multiplies in bfloat16 and accumulates in f32 (pixels, "
                        "optimizer and losses stay f32); auto: bf16 on GPU/TPU, f32 on CPU (%(default)s)")
    p.add_argument("--pooling", choices=("avg", "max"), default=d.pooling, help="(%(default)s)")
    p.add_argument("--model", default=d.model,
                   help="the loss's VGG: vgg16, vgg19 (once ported) or a ported name (%(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of noise initialisation (%(default)s)")


def add_network_style_options(p: argparse.ArgumentParser) -> None:
    """`--network-style` and `--network-style-mix`: which of a trained style network's styles a command uses."""
    p.add_argument("--network-style", type=int, default=None, metavar="I",
                   help="which of the style network's styles (default 0)")
    p.add_argument("--network-style-mix", default=None, metavar="W1,W2,...",
                   help="one weight per style of the network, comma-separated, e.g. 0.5,0.5")


def network_style(args: argparse.Namespace) -> int | tuple[float, ...] | None:
    """The network's style as `--network-style` or `--network-style-mix` chose it: an index, a mix, or None
    (style 0), for `StyleNetworkFunction.style_weights`. Raises StyleJaxError when both are given."""
    if args.network_style is not None and args.network_style_mix is not None:
        raise StyleJaxError("--network-style picks one style and --network-style-mix blends them: give one")
    weights = parse_floats(args.network_style_mix, "--network-style-mix")
    return weights if weights is not None else args.network_style


def load_network_style(args: argparse.Namespace):
    """(the network `--network` names, its (num_styles,) style weights), or (None, None) without `--network`.

    Raises StyleJaxError for a folder that is no model, a style it lacks, or style flags without a network.
    """
    if args.network is None:
        if args.network_style is not None or args.network_style_mix is not None:
            raise StyleJaxError("--network-style and --network-style-mix choose a style network's style: "
                                "add --network PATH")
        return None, None
    style = network_style(args)
    from stylejax.network.function import load_network

    net = load_network(args.network)
    return net, net.style_weights(style)


def check_vgg_model(name: str) -> None:
    """Refuses a style network's folder given to `--model` (VGG weights): it belongs to `--network`."""
    from pathlib import Path

    if (Path(name) / "model.json").is_file():
        raise StyleJaxError(f"--model picks the VGG weights of the loss; {name} is a style network: "
                            f"use --network {name}")


class FlagGroup:
    """A titled group of flags in `--help` that remembers its flags, so that a command can refuse them in a
    mode they do not apply to (`given`)."""

    def __init__(self, parser: argparse.ArgumentParser, title: str, description: str | None = None):
        self.parser = parser
        self.group = parser.add_argument_group(title, description)
        self.actions: list[argparse.Action] = []

    def add_argument(self, *names, **kwargs) -> argparse.Action:
        action = self.group.add_argument(*names, **kwargs)
        self.actions.append(action)
        return action

    def set_defaults(self, **kwargs) -> None:
        self.parser.set_defaults(**kwargs)

    def given(self, args: argparse.Namespace) -> list[str]:
        """The group's flags whose value in `args` is not their default, as `--help` spells them."""
        return [max(a.option_strings, key=len) for a in self.actions
                if getattr(args, a.dest) != self.parser.get_default(a.dest)]


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
    scale_fields = {}
    if hasattr(args, "min_size"):  # the commands that optimise; bench has its own budget
        steps = _steps(str(args.steps), getattr(args, "steps_flag", "--steps"))
        scale_fields = dict(steps=steps, min_size=args.min_size, scale_factor=args.scale_factor,
                        ema_decay=args.ema_decay, tile=_tile(args.tile),
                        remat={"auto": None, "on": True, "off": False}[args.remat])
    return StyleConfig(
        size=args.size, optimizer=getattr(args, "optimizer", d.optimizer),
        learning_rate=getattr(args, "learning_rate", None), **scale_fields,
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


def add_distributed_options(p: argparse.ArgumentParser, what: str) -> None:
    """--distributed and the flags of `jax.distributed.initialize`; `what` says how the work is split."""
    p.add_argument("--distributed", action="store_true",
                   help=f"call jax.distributed.initialize(): SPMD over a TPU pod slice (or Slurm, Open MPI), {what}")
    p.add_argument("--coordinator-address", default=None, help="host:port of process 0 (other clusters)")
    p.add_argument("--num-processes", type=int, default=None)
    p.add_argument("--process-id", type=int, default=None)


def init_distributed(args: argparse.Namespace) -> None:
    """`jax.distributed.initialize` when --distributed or --coordinator-address is given; else nothing."""
    if args.distributed or args.coordinator_address:
        import jax

        # No arguments on Cloud TPU, Slurm and Open MPI: JAX finds its peers itself.
        kwargs = {k: v for k, v in dict(coordinator_address=args.coordinator_address,
                                        num_processes=args.num_processes, process_id=args.process_id).items()
                  if v is not None}
        jax.distributed.initialize(**kwargs)
