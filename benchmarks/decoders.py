"""The shipped decoders: their training data, their training, and their reconstruction PSNR.

    python benchmarks/decoders.py data -o decoder-data      # the training tiles and the evaluation photos
    python benchmarks/decoders.py train decoder-data -o decoders-run [--steps relu4_1=4000 ...]
    python benchmarks/decoders.py adain decoder-data -o decoders-run [--steps 1500]   # relu4_1 on with AdaIN's loss
    python benchmarks/decoders.py curve decoders-run        # PSNR against steps and wall time: psnr.png
    python benchmarks/decoders.py evaluate decoders-run --photos DIR   # PSNR on photos never trained on
    python benchmarks/decoders.py ship decoders-run         # copy the trained levels into weights/decoders/vgg16

Training photos (their licences allow it; `data` fetches them, nothing is committed):
- scikit-image's sample photos (in its wheel) less the three held out (astronaut, chelsea, coffee);
- Debian's `lomiri-wallpapers-16.04` (15 photos, CC BY 4.0 / CC BY-SA 4.0), `lomiri-wallpapers-20.04`
  (Infinite-Sea, Kleiber, Painting-Colors) and `ukui-wallpapers` (the-mouse, CC BY-SA 3.0), downloaded with
  `apt-get download` (Debian's registry is the one reachable here). Their graphic, non-photo wallpapers are
  left out. `mate-backgrounds` is reserved for independent evaluation: never trained or tuned on.
Each photo is cut into 64 px tiles at two scales (long side 384 and 768 px), the scales of 512 px outputs'
details, so a 64 px training crop is a piece of a photo at the size it is seen, not a whole photo shrunk.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TILE = 64
SCALES = (384, 768)
SKIMAGE = ("brick", "camera", "coins", "grass", "gravel", "hubble_deep_field", "immunohistochemistry",
           "motorcycle_left", "retina", "rocket", "page", "moon")
HELD_OUT = ("astronaut", "chelsea", "coffee")
DEBIAN = {
    "lomiri-wallpapers-16.04": None,  # every file: all photos
    "lomiri-wallpapers-20.04": ("Infinite-Sea_by_Aury88", "Kleiber_by_Lukas_Baubkus",
                                "Painting-Colors_by__herobrine7gamer"),
    "ukui-wallpapers": ("the-mouse",),
}
LEVEL_STEPS = dict(relu1_1=500, relu2_1=1500, relu3_1=2000, relu4_1=4000)  # what the shipped set was trained
# AdaIN's relu4_1 decoder, trained on from the reconstruction one: whole photos shrunk to 128 px squares (the
# statistics of a 64 px tile at relu4_1 are those of 8x8 positions), each photo in another one's style.
ADAIN_STEPS, ADAIN_SIZE, ADAIN_BATCH = 1500, 128, 4


def debian_photos(package: str, folder: Path) -> list[Path]:
    """The package's background photos (those DEBIAN names), extracted into `folder` at <= 1024 px."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", package], cwd=tmp, check=True, capture_output=True)
        deb = next(Path(tmp).glob("*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "x")], check=True)
        wanted = DEBIAN.get(package)
        found = []
        for path in sorted((Path(tmp) / "x").rglob("*")):
            if path.suffix.lower() in (".jpg", ".png") and path.is_file() and not path.is_symlink() \
                    and (wanted is None or path.stem in wanted):
                target = folder / f"{path.stem}.jpg"
                image = Image.open(path).convert("RGB")
                image.thumbnail((1024, 1024))  # decoded once here, not at every tile's scale
                image.save(target, quality=95)
                found.append(target)
        return found


def tiles(image, name: str, folder: Path) -> int:
    from PIL import Image

    count = 0
    for side in SCALES:
        scale = side / max(image.size)
        resized = image.resize((max(TILE, round(image.size[0] * scale)), max(TILE, round(image.size[1] * scale))),
                               Image.LANCZOS)
        for y in range(0, resized.size[1] - TILE + 1, TILE):
            for x in range(0, resized.size[0] - TILE + 1, TILE):
                resized.crop((x, y, x + TILE, y + TILE)).save(folder / f"{name}_{side}_{y}_{x}.png")
                count += 1
    return count


def data(args) -> None:
    from PIL import Image
    from skimage import data as skdata

    out = Path(args.output)
    photos, tiles_dir, held_out = out / "photos", out / "tiles", out / "held-out"
    for folder in (photos, tiles_dir, held_out):
        folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for name in SKIMAGE:
        image = Image.fromarray(np.asarray(getattr(skdata, name)())).convert("RGB")
        image.save(photos / f"{name}.png")
        sources.append(photos / f"{name}.png")
    for package in DEBIAN:
        sources += debian_photos(package, photos)
    count = sum(tiles(Image.open(path).convert("RGB"), path.stem, tiles_dir) for path in sources)
    for name in HELD_OUT:
        Image.fromarray(np.asarray(getattr(skdata, name)())).save(held_out / f"{name}.png")
    print(f"{len(sources)} photos -> {count} tiles in {tiles_dir}; held out: {', '.join(HELD_OUT)} in {held_out}")


def train(args) -> None:
    import time

    from stylejax.network.decoder_training import DecoderSettings, train_decoders

    steps = dict(LEVEL_STEPS)
    for item in args.steps or ():
        level, _, count = item.partition("=")
        steps[level] = int(count)

    def progress(level, step, terms):
        if step % 50 == 0:
            print(time.strftime("%H:%M:%S"), level, step, {k: round(v, 5) for k, v in terms.items()}, flush=True)

    root = Path(args.data)
    train_decoders(root / "tiles", args.output, list(steps), steps, DecoderSettings(), eval_images=root / "held-out",
                   log=lambda line: print(line, flush=True), progress=progress)


def adain(args) -> None:
    import time

    from stylejax.cli.train_decoders import ADAIN_DECAY, ADAIN_LEARNING_RATE
    from stylejax.network.decoder_training import DecoderSettings, train_decoders

    def progress(level, step, terms):
        if step % 50 == 0:
            print(time.strftime("%H:%M:%S"), level, step, {k: round(v, 5) for k, v in terms.items()}, flush=True)

    root = Path(args.data)
    settings = DecoderSettings(size=ADAIN_SIZE, batch_size=ADAIN_BATCH, learning_rate=ADAIN_LEARNING_RATE,
                               decay=ADAIN_DECAY)
    train_decoders(root / "photos", args.output, ["relu4_1"], args.steps, settings, style_images=root / "photos",
                   eval_images=root / "held-out", log=lambda line: print(line, flush=True), progress=progress)


def read_eval(folder: Path) -> dict[str, np.ndarray]:
    with (folder / "eval.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: np.array([float(r[key]) for r in rows]) for key in ("step", "seconds", "psnr")}


def curve(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = Path(args.folder)
    figure, (by_step, by_time) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=100)
    for folder in sorted(run.glob("train-relu*")):
        if not (folder / "eval.csv").exists():
            continue
        log = read_eval(folder)
        level = folder.name.removeprefix("train-")
        by_step.plot(log["step"], log["psnr"], label=level)
        by_time.plot(log["seconds"] / 60, log["psnr"], label=level)
        print(f"{level}: {int(log['step'][-1])} steps, {log['seconds'][-1] / 60:.1f} min, "
              f"PSNR {log['psnr'][-1]:.2f} dB on the held-out photos")
    by_step.set_xlabel("step")
    by_time.set_xlabel("minutes on this CPU")
    for axes in (by_step, by_time):
        axes.set_ylabel("PSNR, dB")
        axes.legend()
    figure.tight_layout()
    figure.savefig(run / "psnr.png")
    print(run / "psnr.png")


def evaluate(args) -> None:
    import jax.numpy as jnp

    from stylejax.autoencoder.reconstruction import ENCODER_POOLING, psnr
    from stylejax.io.images import load_image
    from stylejax.network.data import centre_crop, find_images
    from stylejax.network.decoder_files import load_decoders
    from stylejax.nn.weights import load_vgg

    vgg = load_vgg("vgg16", pooling=ENCODER_POOLING)
    decoders = load_decoders(args.folder)
    photos = [centre_crop(load_image(path), args.side) for path in find_images(args.photos)]
    for level, decoder in decoders.items():
        values = [float(psnr(decoder(vgg(jnp.asarray(p[None]), (level,))[level]), jnp.asarray(p[None]))[0])
                  for p in photos]
        print(f"{level}: PSNR {np.mean(values):.2f} dB (min {np.min(values):.2f}) on {len(photos)} photos, "
              f"{args.side} px centre squares")


def ship(args) -> None:
    from stylejax.network.decoder_files import DECODERS_JSON, read_decoders_json, shipped_decoders

    run, target = Path(args.folder), shipped_decoders()
    record = read_decoders_json(run)
    target.mkdir(parents=True, exist_ok=True)
    for entry in record["levels"].values():
        for trained in (entry, entry.get("adain")):  # a level's AdaIN decoder beside its reconstruction one
            if trained is not None:
                shutil.copy(run / trained["file"], target / trained["file"])
    shutil.copy(run / DECODERS_JSON, target / DECODERS_JSON)
    print(f"{', '.join(record['levels'])} -> {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("data")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(command_fn=data)
    p = commands.add_parser("train")
    p.add_argument("data")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--steps", nargs="*", help="LEVEL=STEPS overrides")
    p.set_defaults(command_fn=train)
    p = commands.add_parser("adain")
    p.add_argument("data")
    p.add_argument("-o", "--output", required=True, help="a run holding relu4_1's reconstruction decoder")
    p.add_argument("--steps", type=int, default=ADAIN_STEPS)
    p.set_defaults(command_fn=adain)
    p = commands.add_parser("curve")
    p.add_argument("folder")
    p.set_defaults(command_fn=curve)
    p = commands.add_parser("evaluate")
    p.add_argument("folder")
    p.add_argument("--photos", required=True)
    p.add_argument("--side", type=int, default=256)
    p.set_defaults(command_fn=evaluate)
    p = commands.add_parser("ship")
    p.add_argument("folder")
    p.set_defaults(command_fn=ship)
    args = parser.parse_args()
    args.command_fn(args)


if __name__ == "__main__":
    sys.exit(main())
