"""`stylejax train-decoders`: the flags of the decoders' training (reconstruction, or AdaIN's objective with
--style-images), and the call into `network.decoder_training`."""

from __future__ import annotations

import argparse
import sys

from stylejax.cli.options import add_distributed_options, init_distributed, progress_bar
from stylejax.errors import StyleJaxError

# Fine-tuning with AdaIN's objective starts from a trained decoder: Huang & Belongie's rate and decay, not
# reconstruction's 10x larger start.
ADAIN_LEARNING_RATE = 1e-4
ADAIN_DECAY = 5e-5


def add_parser(commands) -> None:
    """Adds the `train-decoders` subcommand to the `stylejax` parser's subcommands."""
    from stylejax.autoencoder.adain_objective import DEFAULT_STYLE_WEIGHT
    from stylejax.network.decoder_training import DEFAULT_LEVELS, DEFAULT_STEPS, DecoderSettings
    from stylejax.nn.decoders import LEVELS

    d = DecoderSettings()
    p = commands.add_parser("train-decoders", help="train the decoders of one-pass style transfer on photos "
                                                   "(for reconstruction, or on with AdaIN's objective; resumable: "
                                                   "rerun the same command)")
    p.add_argument("--images", required=True, help="a folder of training photos (searched recursively)")
    p.add_argument("-o", "--output", required=True, help="the decoders folder to write (decoders.json, LEVEL.npz)")
    p.add_argument("--levels", nargs="+", default=list(DEFAULT_LEVELS), metavar="LEVEL",
                   help=f"the VGG levels to train a decoder for, of {', '.join(LEVELS)} "
                        f"(default: {' '.join(DEFAULT_LEVELS)})")
    p.add_argument("--steps", nargs="+", type=int, default=[DEFAULT_STEPS], metavar="N",
                   help="steps per level: one number, or one per level of --levels; run again with more and the "
                        f"training continues ({DEFAULT_STEPS})")
    p.add_argument("--size", type=int, default=d.size, help="training crop side in px, a multiple of 8 (%(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="crops per step over all devices (%(default)s)")
    p.add_argument("--width", type=float, default=d.width,
                   help="hidden channels relative to VGG's (%(default)s; with --style-images the decoders in -o keep "
                        "their own)")
    p.add_argument("--style-images", default=None,
                   help="train each level's decoder in -o on with AdaIN's objective (Huang & Belongie: photos in "
                        "these images' styles; photos will do), into LEVEL-adain.npz, which `transfer --method "
                        "adain` uses; the level's reconstruction decoder must be in -o")
    p.add_argument("--style-weight", type=float, default=DEFAULT_STYLE_WEIGHT,
                   help="with --style-images: the style loss against the content loss (%(default)s)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help=f"Adam's at step 0 ({d.learning_rate}; with --style-images {ADAIN_LEARNING_RATE})")
    p.add_argument("--decay", type=float, default=None,
                   help=f"the learning rate at step s is learning-rate / (1 + decay * s) ({d.decay}; with "
                        f"--style-images {ADAIN_DECAY})")
    p.add_argument("--pixel-weight", type=float, default=d.pixel_weight, help="(%(default)s)")
    p.add_argument("--feature-weight", type=float, default=d.feature_weight,
                   help="the feature error at the decoder's level against the pixel error (%(default)s)")
    p.add_argument("--eval-images", default=None,
                   help="a folder of photos not trained on: their reconstruction PSNR is logged (eval.csv)")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="(%(default)s)")
    p.add_argument("--sample-every", type=int, default=d.sample_every,
                   help="steps between sample sheets and evaluations; 0: at the end only (%(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="(%(default)s)")
    add_distributed_options(p, "the batch split over every device of every host")
    p.set_defaults(run=run, flag_names={"level": "--levels"})


def run(args: argparse.Namespace) -> int:
    from stylejax.network.decoder_training import DecoderSettings, level_folder, train_decoders

    adain = args.style_images is not None
    d = DecoderSettings()
    learning_rate = args.learning_rate if args.learning_rate is not None else \
        ADAIN_LEARNING_RATE if adain else d.learning_rate
    decay = args.decay if args.decay is not None else ADAIN_DECAY if adain else d.decay
    settings = DecoderSettings(size=args.size, batch_size=args.batch_size, width=args.width,
                               learning_rate=learning_rate, decay=decay, pixel_weight=args.pixel_weight,
                               feature_weight=args.feature_weight, checkpoint_every=args.checkpoint_every,
                               sample_every=args.sample_every, seed=args.seed)
    if len(args.steps) not in (1, len(args.levels)):
        raise StyleJaxError(f"--steps takes one number, or one per level of --levels ({len(args.levels)}), "
                            f"got {len(args.steps)}")
    steps = dict(zip(args.levels, args.steps * len(args.levels) if len(args.steps) == 1 else args.steps,
                     strict=True))
    init_distributed(args)  # after the settings' checks: a bad flag exits 2 before joining the others
    with progress_bar(max(steps.values()), "train-decoders") as bar:
        current = []  # the level the bar shows

        def progress(level, step, terms):
            if current != [level]:  # a new level: its own bar, from the step it resumed at
                current[:] = [level]
                bar.reset(total=steps[level])
                bar.set_description(level, refresh=False)
            bar.update(step - bar.n)
            rate = bar.format_dict.get("rate") or 0.0  # steps/s, smoothed by tqdm; its bar shows the time left
            bar.set_postfix({name: f"{value:.3g}" for name, value in terms.items()}
                            | {"img/s": f"{rate * settings.batch_size:.2g}"}, refresh=False)

        folder = train_decoders(args.images, args.output, args.levels, steps, settings,
                                style_images=args.style_images, style_weight=args.style_weight,
                                eval_images=args.eval_images, progress=progress,
                                log=lambda line: print(line, file=sys.stderr))
    print(f"decoders: {folder} (each level's train.csv, eval.csv, samples/ and loss.png in "
          f"{level_folder(folder, 'LEVEL', 'adain' if adain else 'reconstruction')})", file=sys.stderr)
    return 0
