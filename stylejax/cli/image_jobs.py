"""What `stylejax apply` and `stylejax transfer` share: their job flags, and their two modes, an image to a
file or images (a folder, a list file, several files) to a folder as a bulk job with its progress bar,
summary line and exit status (0 all done, 1 some inputs failed)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from stylejax.cli.options import progress_bar
from stylejax.errors import StyleJaxError

if TYPE_CHECKING:  # the commands import jobs only when they run: `stylejax --help` stays quick
    from stylejax.jobs.inputs import Item
    from stylejax.jobs.manifest import JobSummary


def add_image_job_options(p: argparse.ArgumentParser) -> None:
    """-o, --size, --batch-size, --ray and --workers (put the inputs' positional argument first)."""
    p.add_argument("-o", "--output", required=True, help="the output file (one image in) or folder")
    p.add_argument("--size", type=int, default=None,
                   help="long side of the outputs (default: each input's, shrunk where it does not fit)")
    p.add_argument("--batch-size", type=int, default=8,
                   help="images of one shape bucket per forward pass, fewer where memory is short (%(default)s)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster, as `stylejax batch --ray` (then put --ray after the inputs)")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray workers (default: one per GPU, or one per node on a CPU cluster)")


def one_image(args: argparse.Namespace, sources: list[Path]) -> bool:
    """Whether the command writes one file (one image file in, -o a file name, no --ray) or a folder.

    Raises StyleJaxError for --workers without --ray and for an output that is one of the inputs.
    """
    if args.ray is None and args.workers is not None:
        raise StyleJaxError("--workers is the size of a Ray fleet: it needs --ray")
    output = Path(args.output)
    if any(output.resolve() == s.resolve() for s in sources):
        raise StyleJaxError(f"{output}: the output is one of the inputs: give another -o")
    return (len(sources) == 1 and sources[0].is_file() and bool(output.suffix) and not output.is_dir()
            and sources[0].suffix.lower() != ".txt" and args.ray is None)


def job_inputs(sources: list[Path], outdir: Path) -> list[Item]:
    """The job's inputs (`jobs.inputs.Item`): a folder's images, a list file's, or image files named by their
    file name. Raises StyleJaxError when there are none."""
    from stylejax.jobs.inputs import Item, collect_inputs

    items = []
    for source in sources:
        if source.is_dir() or source.suffix.lower() == ".txt":
            items += collect_inputs(source, outdir)
        elif source.exists():
            items.append(Item(source, source.name))
        else:
            raise StyleJaxError(f"{source}: no such file or folder")
    if not items:
        raise StyleJaxError(f"no images in {', '.join(map(str, sources))}")
    return items


def run_image_job(what: str, total: int, outdir: Path, run: Callable[[Callable[[int, int], None]], JobSummary],
                  start: float) -> int:
    """Runs a bulk job under a progress bar and reports it: `run(progress)` returns its `JobSummary`.

    Returns:
      The exit status: 1 if an input failed, else 0.
    """
    with progress_bar(total, what, unit="img") as bar:
        summary = run(lambda done, total: bar.update(done - bar.n))
    print(f"{summary.done} done, {summary.skipped} already there, {len(summary.failed)} failed "
          f"({time.perf_counter() - start:.1f} s; manifest: {outdir / 'manifest.jsonl'})", file=sys.stderr)
    for name, error in summary.failed:
        print(f"failed: {name}: {error}", file=sys.stderr)
    return 1 if summary.failed else 0


def report_written(output: Path, start: float) -> int:
    """The one-image mode's line, "wrote OUT (1.2 s)"; returns the exit status 0."""
    print(f"wrote {output} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0
