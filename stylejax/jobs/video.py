"""Resumable video jobs on disk, optimised frame by frame: one video, a folder of frames, or a folder of videos.

`plan_jobs` checks every job before any work; `run_video_jobs` optimises the frames (`video.frame_solver`)
through `video_work.run_frame_jobs`: each frame saved as it finishes, a run resumed after the last saved
frame, an output video encoded only when every frame is done.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io import masks as masks_io
from stylejax.jobs.video_work import RUN_RECORD, VideoJob, VideoSummary, file_stamp, run_frame_jobs
from stylejax.video import reading, writing
from stylejax.video.frame_solver import check, stylize_streams
from stylejax.video.settings import VideoFrame, VideoSettings


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
            raise StyleJaxError(f"{out}: output would replace an input: choose another `output`")
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
            raise StyleJaxError(f"{job.output}: already exists: pass `overwrite` to replace it")
    elif job.output.exists():
        if not job.output.is_dir():
            raise StyleJaxError(f"{job.output}: exists and is not a folder: give a folder for the frames")
        ours = (job.output / RUN_RECORD).exists()
        if not ours and any(job.output.iterdir()) and not overwrite:
            raise StyleJaxError(f"{job.output}: exists and is not empty: pass `overwrite` or choose another `output`")


def _record(job: VideoJob, styles: Sequence[str | Path], config: StyleConfig, settings: VideoSettings,
            masks: Sequence[str | Path] | None = None) -> dict:
    """What makes a run's frames: a work folder whose record differs holds another run's frames."""
    return {"source": file_stamp(job.source), "styles": [file_stamp(s) for s in styles], "config": repr(config),
            "settings": repr(settings), "start": job.start, "duration": job.duration, "fps": job.fps,
            "frames": job.info.frame_count, "masks": [file_stamp(m) for m in masks or ()]}


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

    def stylize(frames, on_frame, resumed):
        stylize_streams(frames, style, config, settings, on_frame, done=resumed, masks=mask_frames,
                        batch_size=batch_size, on_chunk=on_chunk, log=log)

    return run_frame_jobs(jobs, records, stylize, overwrite=overwrite, quality=quality, progress=progress)
