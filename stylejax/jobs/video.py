"""Resumable video jobs on disk: one video, a folder of frames, or a folder of videos.

Each finished frame is saved (atomically) before the next one starts, in a work folder beside the
output video (`.NAME.frames/`) or in the output folder itself, with a record of the run that made
them. Running the same command again continues after the last saved frame and gives the same frames;
a different run's frames are never mixed in. An output video is encoded (with the source's audio and
frame timing) only when every frame is done, and appears whole.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io import masks as masks_io
from stylejax.video import reading, writing
from stylejax.video.frame_solver import check, stylize_streams
from stylejax.video.settings import Progress, VideoFrame, VideoSettings

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

    `seconds` is the whole run's: frame t of every video was one batch.
    """

    output: Path
    frames: int
    resumed: int
    seconds: float
    temporal_error: float | None
    style_loss: float | None


def plan_jobs(source: str | Path, output: str | Path, *, overwrite: bool = False, start: float = 0.0,
              duration: float | None = None, fps: float | None = None) -> list[VideoJob]:
    """The jobs of `stylejax video SOURCE -o OUTPUT`, checked before any work.

    SOURCE is a video file or a folder of frames (OUTPUT: a video file or a folder of frames), or a
    folder of videos (OUTPUT: a folder, one video in it per source video, named after it).

    Raises:
      StyleJaxError: a source that is no video, an output that exists (without `overwrite`), would
        replace a source or another job's output, or cannot be written (its format, or the source's audio).
    """
    source, output = Path(source), Path(output)
    if not source.exists():
        raise StyleJaxError(f"{source}: no such file or folder")
    videos = sorted(p for p in source.iterdir() if reading.is_video_file(p)) if source.is_dir() else []
    if videos and images.list_frame_files(source, required=False):
        raise StyleJaxError(f"{source}: holds both videos and image frames: put them in separate folders")
    if videos:
        if reading.is_video_suffix(output) or (output.exists() and not output.is_dir()):
            raise StyleJaxError(f"{output}: a folder of videos needs an output folder, not a file")
        if not output.exists() and not (output.parent if str(output.parent) else Path(".")).is_dir():
            raise StyleJaxError(f"{output.parent}: output directory does not exist: create it first")
        pairs = [(video, output / f"{video.stem}{_video_suffix(video)}") for video in videos]
    else:
        pairs = [(source, output)]
    sources = {video.resolve() for video, _ in pairs}
    jobs, outputs = [], set()
    for video, out in pairs:
        if out.resolve() in sources:
            raise StyleJaxError(f"{out}: output would replace an input: choose another -o")
        if out.resolve() in outputs:
            raise StyleJaxError(f"{video}: its output {out.name} would also be another video's: rename one of them")
        outputs.add(out.resolve())
        info = reading.probe(video, start=start, duration=duration, fps=fps)
        job = VideoJob(video, out, info, start, duration, fps)
        _check_output(job, overwrite, made=output if videos else None)
        if job.to_video:
            writing.check_writable(out, video if info.has_audio else None)
        jobs.append(job)
    return jobs


def _video_suffix(source: Path) -> str:
    return source.suffix.lower() if source.suffix.lower() in (".mp4", ".mov", ".mkv") else ".mp4"


def _check_output(job: VideoJob, overwrite: bool, made: Path | None = None) -> None:
    """`made`: a folder the job makes itself (a folder of videos' output folder)."""
    parent = job.output.parent if str(job.output.parent) else Path(".")
    if parent != made and not parent.is_dir():
        raise StyleJaxError(f"{parent}: output directory does not exist: create it first")
    if job.to_video:
        if job.output.is_dir():
            raise StyleJaxError(f"{job.output}: is a directory: give a video file name or a folder without a suffix")
        if job.output.exists() and not overwrite:
            raise StyleJaxError(f"{job.output}: already exists: pass --overwrite to replace it")
    elif job.output.exists():
        if not job.output.is_dir():
            raise StyleJaxError(f"{job.output}: exists and is not a folder: give a folder for the frames")
        ours = (job.output / RUN_RECORD).exists()
        if not ours and any(job.output.iterdir()) and not overwrite:
            raise StyleJaxError(f"{job.output}: exists and is not empty: pass --overwrite or choose another -o")


def _record(job: VideoJob, styles: Sequence[str | Path], config: StyleConfig, settings: VideoSettings,
            masks: Sequence[str | Path] | None = None) -> dict:
    """What makes a run's frames: a work folder whose record differs holds another run's frames."""
    def stamp(path):  # a file replaced at the same path is another input
        stat = Path(path).stat()
        return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]

    return {"source": stamp(job.source), "styles": [stamp(s) for s in styles], "config": repr(config),
            "settings": repr(settings), "start": job.start, "duration": job.duration, "fps": job.fps,
            "frames": job.info.frame_count, "masks": [stamp(m) for m in masks or ()]}


def _check_work(job: VideoJob, record: dict, overwrite: bool) -> None:
    """Refuses, before anything is written, a work folder that holds another run's frames."""
    saved = _read_record(job.work / RUN_RECORD)
    if saved is not None and saved != record and not overwrite:
        raise StyleJaxError(f"{job.work}: holds frames of a different run (other settings or inputs): "
                            "pass --overwrite to start again, or choose another -o")


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
            state = tuple(last[k] for k in leaves) if leaves else None
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
        with images.atomic_output(path) as tmp:
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
    state = {f"state_{i}": leaf for i, leaf in enumerate(frame.optimizer_state or ())}
    with images.atomic_output(work / LAST_OUTPUT) as tmp:
        np.savez(tmp, index=frame.index, working=frame.working, **state)


def _read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if _FRAME_PATTERN.fullmatch(p.name))


def run_video_jobs(jobs: Sequence[VideoJob], style: Sequence[str | Path], config: StyleConfig,
                   settings: VideoSettings, *, overwrite: bool = False, quality: int = 18, batch_size: int = 8,
                   progress: Callable[[int, int, VideoFrame | None], None] | None = None,
                   on_chunk: Callable[[int, int], None] | None = None,
                   log: Callable[[str], None] | None = None,
                   masks: Sequence[str | Path] | None = None) -> list[VideoSummary]:
    """Stylizes every job's frames (frame t of same-shape videos as one batch), then writes each output.

    Args:
      jobs: from `plan_jobs`.
      style: the style image paths.
      config, settings: as `stylize_video`'s.
      overwrite: start again where a work folder holds another run's frames; replace existing outputs.
      quality: the x264 CRF of output videos (lower is better, 18 looks lossless to most eyes).
      batch_size: frames of different videos per batch.
      progress: called with (frames done, frames in all, the frame just done or None) as frames finish.
      on_chunk: called with (steps done, steps) within the frames being optimised.
      log: receives a line on what a batch of frames needs in memory (a batch that cannot fit is refused).
      masks: one region mask per style for every video: an image (every frame) or a folder of frames
        (`masks_io.frame_masks`).
    """
    check(config, [(job.info.height, job.info.width) for job in jobs], settings)
    mask_frames = None
    if masks is not None:
        mask_frames = []
        for job in jobs:  # the first frame's masks are read (and checked) before any work
            frames = masks_io.frame_masks(masks, len(style), (job.info.height, job.info.width))
            mask_frames.append(itertools.chain([next(frames)], frames))
    records = [_record(job, style, config, settings, masks) for job in jobs]
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
        stylize_streams([job.frames() for job in jobs], style, config, settings, on_frame, done=resumed,
                        masks=mask_frames, batch_size=batch_size, on_chunk=on_chunk, log=log)
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
        summaries.append(VideoSummary(
            job.output, len(frames), count, seconds,
            float(np.mean(errors)) if errors else None,
            float(np.mean([f.losses["style"] for f in frames])) if frames else None))
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
