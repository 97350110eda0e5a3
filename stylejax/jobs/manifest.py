"""A bulk job's record, OUTDIR/manifest.jsonl: one JSON line per input per outcome, and the job's tally.

Local jobs write it from each process; a Ray fleet from its driver alone. Every "failed" line is made
by `failed_record`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import jax

MANIFEST = "manifest.jsonl"


def failed_record(name: str, error: str) -> dict:
    """The manifest record of an input that failed: its first line of `error` says why."""
    lines = str(error).strip().splitlines()
    return dict(input=name, status="failed", error=lines[0] if lines else "no message")


@dataclasses.dataclass
class JobSummary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def count(self, record: dict) -> None:
        """Counts one manifest record ("done", "skipped-existing" or "failed")."""
        if record["status"] == "done":
            self.done += 1
        elif record["status"] == "failed":
            self.failed.append((record["input"], record["error"]))
        else:
            self.skipped += 1


class Manifest:
    """The job's JSON-lines record. One write() per line with O_APPEND, so concurrent hosts don't interleave.

    `process` is the number each line carries (default: `jax.process_index()`); a Ray driver, which never
    starts JAX, gives 0.
    """

    def __init__(self, outdir: Path, process: int | None = None):
        self.path = outdir / MANIFEST
        self.process = process

    def latest(self) -> dict[str, dict]:
        records = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut off by a crash: the input is simply redone
                records[record["input"]] = record
        return records

    def skips_existing(self, name: str, output: Path, previous: dict[str, dict]) -> bool:
        """Whether `output` already exists, so input `name` is skipped; records the skip once (`previous`:
        what `latest` said when the job started). Nothing a user had is overwritten."""
        if not output.exists():
            return False
        if previous.get(name, {}).get("status") not in ("done", "skipped-existing"):
            self.add(input=name, status="skipped-existing", output=str(output))
        return True

    def add(self, **record) -> None:
        process = jax.process_index() if self.process is None else self.process
        line = (json.dumps(record | {"time": time.time(), "process": process}) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
