"""`stylejax train`: the flags of a style network's training, and the call into `network.train`."""

from __future__ import annotations

import argparse
import sys

from stylejax.cli.options import add_distributed_options, init_distributed, progress_bar


def add_parser(commands) -> None:
    """Adds the `train` subcommand to the `stylejax` parser's subcommands."""
    from stylejax.network.settings import TrainSettings

    d = TrainSettings()
    p = commands.add_parser("train", help="train a feed-forward style network (resumable: rerun the same command)")
    p.add_argument("--style", nargs="+", required=True, help="style image(s); several: one network, one style each")
    p.add_argument("--images", required=True, help="a folder of training photos (searched recursively)")
    p.add_argument("-o", "--output", required=True, help="the model folder to write")
    p.add_argument("--size", type=int, default=d.size, help="training crop side in px (%(default)s)")
    p.add_argument("--steps", type=int, default=d.steps, help="(%(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="crops per step over all devices (%(default)s)")
    p.add_argument("--width", type=int, choices=(32, 16), default=d.width, help="network width (%(default)s)")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="Adam's (%(default)s)")
    p.add_argument("--content-weight", type=float, default=d.content_weight, help="(%(default)s)")
    p.add_argument("--style-weight", type=float, default=d.style_weight, help="(%(default)s)")
    p.add_argument("--tv-weight", type=float, default=d.tv_weight, help="(%(default)s)")
    p.add_argument("--content-layers", default=",".join(d.content_layers), help="(%(default)s)")
    p.add_argument("--style-layers", default=",".join(d.style_layers), help="(%(default)s)")
    p.add_argument("--style-scale", type=float, default=d.style_scale,
                   help="the painting's long side relative to --size: larger paints larger strokes (default: the "
                        "painting at 512 px, strokes sized for outputs of about 512 px)")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="(%(default)s)")
    p.add_argument("--sample-every", type=int, default=d.sample_every, help="(%(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="(%(default)s)")
    p.add_argument("--precision", choices=("auto", "f32", "bf16"), default=d.precision, help="(%(default)s)")
    add_distributed_options(p, "the batch split over every device of every host")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stylejax.network.settings import TrainSettings
    from stylejax.network.train import train_network

    def layers(text):
        return tuple(v.strip() for v in text.split(",") if v.strip())

    settings = TrainSettings(size=args.size, steps=args.steps, batch_size=args.batch_size, width=args.width,
                             learning_rate=args.learning_rate, content_weight=args.content_weight,
                             style_weight=args.style_weight, tv_weight=args.tv_weight,
                             content_layers=layers(args.content_layers), style_layers=layers(args.style_layers),
                             style_scale=args.style_scale,
                             checkpoint_every=args.checkpoint_every, sample_every=args.sample_every, seed=args.seed,
                             precision=args.precision)
    init_distributed(args)  # after the settings' checks: a bad flag exits 2 before joining the others
    with progress_bar(settings.steps, "train") as bar:
        def progress(step, terms):
            bar.update(step - bar.n)
            rate = bar.format_dict.get("rate") or 0.0  # steps/s, smoothed by tqdm; its bar shows the time left
            bar.set_postfix({name: f"{value:.3g}" for name, value in terms.items()}
                            | {"img/s": f"{rate * settings.batch_size:.2g}"}, refresh=False)

        folder = train_network(args.style, args.images, args.output, settings, progress=progress,
                               log=lambda line: print(line, file=sys.stderr))
    print(f"model: {folder} (train.csv, samples/, loss.png beside it)", file=sys.stderr)
    return 0
