"""Atomic file writes: a temporary file beside the target, renamed over it only once it is complete.

Every file stylejax writes for a reader to find (images, model.json, exported networks, a job's records)
goes through `atomic_output`: a reader sees the old file or the new one, never a partial one.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file beside `path` (same suffix) that replaces it only if the block succeeds.

    Otherwise the temporary file is removed and whatever was at `path` stays as it was: a reader never
    sees a partial file. The name is unique (`tempfile.mkstemp`), so several writers may share a folder.

    Example:
      >>> with atomic_output(folder / "model.json") as tmp:
      ...     tmp.write_text(text)
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=path.suffix, dir=path.parent or ".")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _temporary_prefix(path: Path) -> str:
    return f".{path.stem}.tmp-"


def remove_partial_outputs(path: str | os.PathLike) -> None:
    """Removes what `atomic_output(path)` leaves when its process is killed mid-write (SIGKILL, a lost node).

    Only for a path no other process is writing: a bulk job's input belongs to one writer at a time.
    """
    path = Path(path)
    for stale in path.parent.glob(f"{glob.escape(_temporary_prefix(path))}*{glob.escape(path.suffix)}"):
        stale.unlink(missing_ok=True)
