"""The work folder of a resumable video job, and the run that fills it, whatever stylizes the frames.

Each finished frame is saved (atomically) before the next one starts, in a work folder beside the
output video (`.NAME.frames/`) or in the output folder itself, with a record of the run that made
them. Running the same command again continues after the last saved frame and gives the same frames;
a different run's frames are never mixed in. An output video is encoded (with the source's audio and
frame timing) only when every frame is done, and appears whole. `jobs.video` optimises the frames,
`jobs.one_pass_video` puts them through a style network or the one-pass transfer; both run through
`run_frame_jobs`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np

from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io.atomic import atomic_output
from stylejax.video import reading, writing
from stylejax.video.settings import Progress, VideoFrame

# stylize(each job's content frames, on_frame(job index, frame), each job's `Progress` to resume after)
FrameStylizer = Callable[[list, Callable[[int, VideoFrame], None], list[Progress]], None]

RUN_RECORD = ".stylejax-video.json"
LAST_OUTPUT = ".stylejax-last.npz"  # the last frame's raw output and optimizer state: where the next starts
FRAME_NAME = "frame_{:06d}.png"
_FRAME_PATTERN = re.compile(r"frame_(\d{6})\.png")


@dataclasses.dataclass(frozen=True)
class VideoJob:
    """One video to stylize: where it comes from, where it goes, and which part of it."""

    source: Path
    output: Path
    info: reading.VideoInfo
    start: float = 0.0
    duration: float | None = None
    fps: float | None = None

    @property
    def to_video(self) -> bool:
        return reading.is_video_suffix(self.output)

    @property
    def work(self) -> Path:
        """Where frames are saved as they finish: beside an output video, or the output folder itself."""
        return self.output.with_name(f".{self.output.name}.frames") if self.to_video else self.output

    def frames(self):
        return reading.read_frames(self.source, start=self.start, duration=self.duration, fps=self.fps)


@dataclasses.dataclass(frozen=True)
class VideoSummary:
    """How a job went: frames stylized in this run (resumed ones are not counted) and their mean figures.

    `seconds` is the whole run's: frame t of every video was one batch. `style_loss` is None where
    nothing was optimised (a style network's frames).
    """

    output: Path
    frames: int
    resumed: int
    seconds: float
    temporal_error: float | None
    style_loss: float | None


def file_stamp(path: str | Path) -> list:
    """[resolved path, size, mtime]: a file replaced at the same path is another input (for run records)."""
    stat = Path(path).stat()
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]


def _check_work(job: VideoJob, record: dict, overwrite: bool) -> None:
    """Refuses, before anything is written, a work folder that holds another run's frames."""
    saved = _read_record(job.work / RUN_RECORD)
    if saved is not None and saved != record and not overwrite:
        raise StyleJaxError(f"{job.work}: holds frames of a different run (other settings or inputs): "
                            "pass `overwrite` to start again, or choose another `output`")


def _resume_point(job: VideoJob, record: dict) -> Progress:
    """The frames of this run the work folder already holds, and the last one's raw output and optimizer
    state; reads only."""
    if not job.work.is_dir() or _read_record(job.work / RUN_RECORD) != record:
        return Progress(0, None)
    frames = _frame_files(job.work)
    count = next((i for i, frame in enumerate(frames) if frame.name != FRAME_NAME.format(i + 1)), len(frames))
    try:
        with np.load(job.work / LAST_OUTPUT) as last:
            index, working = int(last["index"]), last["working"]
            leaves = sorted((k for k in last.files if k.startswith("state_")), key=lambda k: int(k[6:]))
            state = [last[k] for k in leaves] if leaves else None  # the state's leaves (`Progress`)
    except (OSError, ValueError, KeyError):
        return Progress(0, None)  # no usable last output: start again (the frames are rewritten as they come)
    # Each frame is saved before its raw output: a kill between the two redoes that one frame.
    return Progress(index + 1, working, state) if index < count else Progress(0, None)


def _prepare_work(job: VideoJob, record: dict) -> None:
    """Makes the work folder ready for `record`'s run, clearing another run's frames (this tool's files only)."""
    job.work.mkdir(parents=True, exist_ok=True)
    path = job.work / RUN_RECORD
    if _read_record(path) != record:  # a new run, or --overwrite over another's
        for stale in [*_frame_files(job.work), job.work / LAST_OUTPUT]:
            stale.unlink(missing_ok=True)
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(record, indent=1))


def _remove_unstarted(job: VideoJob, existed: set[Path]) -> None:
    """Takes back what `_prepare_work` made for a job that saved no frame: a failed start leaves nothing."""
    if _frame_files(job.work):
        return
    for ours in (job.work / RUN_RECORD, job.work / LAST_OUTPUT):
        ours.unlink(missing_ok=True)
    for folder in (job.work, job.work.parent):
        if folder not in existed and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _save_last(work: Path, frame: VideoFrame) -> None:
    state = {f"state_{i}": leaf for i, leaf in enumerate(jax.tree.leaves(frame.optimizer_state))}
    with atomic_output(work / LAST_OUTPUT) as tmp:
        np.savez(tmp, index=frame.index, working=frame.working, **state)


def _read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if _FRAME_PATTERN.fullmatch(p.name))


def run_frame_jobs(jobs: Sequence[VideoJob], records: Sequence[dict], stylize: FrameStylizer, *,
                   overwrite: bool = False, quality: int = 18,
                   progress: Callable[[int, int, VideoFrame | None], None] | None = None) -> list[VideoSummary]:
    """Runs `stylize` over every job's frames, saving each frame as it comes, then writes each output.

    Args:
      jobs: from `jobs.video.plan_jobs`.
      records: per job, what makes its frames (a work folder holding another record's frames is refused
        without `overwrite`, and started again with it).
      stylize: called once with each job's content frames, the callback to give every finished frame to,
        and each job's `Progress` (frames already saved are to be read and skipped).
      overwrite: start again where a work folder holds another run's frames; replace existing outputs.
      quality: the x264 CRF of output videos.
      progress: called with (frames done, frames in all, the frame just done or None) as frames finish.
    """
    for job, record in zip(jobs, records, strict=True):
        _check_work(job, record, overwrite)
    resumed = [_resume_point(job, record) for job, record in zip(jobs, records, strict=True)]
    done = [progress.frames for progress in resumed]
    total = sum(max(job.info.frame_count, count) for job, count in zip(jobs, done, strict=True))
    finished = sum(done)
    figures: list[list[VideoFrame]] = [[] for _ in jobs]
    begin = time.perf_counter()
    if progress is not None:
        progress(finished, total, None)

    def on_frame(video: int, frame: VideoFrame) -> None:
        nonlocal finished
        images.save_image(frame.image, jobs[video].work / FRAME_NAME.format(frame.index + 1))
        _save_last(jobs[video].work, frame)
        figures[video].append(frame)
        finished += 1
        if progress is not None:
            progress(finished, total, frame)

    existed = {folder for job in jobs for folder in (job.work, job.work.parent) if folder.exists()}
    try:
        for job, record in zip(jobs, records, strict=True):
            _prepare_work(job, record)
        stylize([job.frames() for job in jobs], on_frame, resumed)
    except BaseException:
        for job in jobs:
            _remove_unstarted(job, existed)
        raise
    seconds = time.perf_counter() - begin
    summaries = []
    for job, count, frames in zip(jobs, done, figures, strict=True):
        if job.to_video:
            _encode(job, quality)
        errors = [f.temporal_error for f in frames if f.temporal_error is not None]
        styles = [f.losses["style"] for f in frames if "style" in f.losses]
        summaries.append(VideoSummary(job.output, len(frames), count, seconds,
                                      float(np.mean(errors)) if errors else None,
                                      float(np.mean(styles)) if styles else None))
    return summaries


def _encode(job: VideoJob, quality: int) -> None:
    """The output video from the saved frames, with the source's frame timing and audio; then the frames go."""
    frames = _frame_files(job.work)[:job.info.frame_count]
    timestamps = job.info.timestamps[:len(frames)]
    writing.write_video(job.output, (images.load_image(f) for f in frames), fps=job.info.fps,
                            timestamps=timestamps, quality=quality,
                            audio_from=job.source if job.info.has_audio else None,
                            audio_start=job.start, audio_duration=job.duration)
    shutil.rmtree(job.work)
