"""Resumable video jobs in one pass a frame, no optimisation: through a style network, or through the one-pass
(encoder-decoder) transfer with any painting.

The same jobs (`jobs.video.plan_jobs`), work folders and outputs as optimised video
(`jobs.video_work.run_frame_jobs`): frames saved as they finish, a run resumed after the last saved frame,
an output video encoded only when every frame is done, with the source's audio and frame timing.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from stylejax.autoencoder.settings import TransferSettings
from stylejax.config import check_batch_size
from stylejax.jobs.video_work import VideoJob, VideoSummary, file_stamp, run_frame_jobs
from stylejax.network.decoder_files import DECODERS_JSON, shipped_decoders
from stylejax.network.function import load_network
from stylejax.network.model_dir import MODEL_JSON
from stylejax.network.transfer import load_transfer
from stylejax.video import flow
from stylejax.video.one_pass_frames import FramePass, NetworkPass, TransferPass, apply_one_pass_streams, frame_shape
from stylejax.video.settings import VideoFrame

Progress = Callable[[int, int, VideoFrame | None], None]


def run_one_pass_video_jobs(jobs: Sequence[VideoJob], frame_pass: FramePass, record: dict, *, size: int | None,
                            flow_preset: str = "medium", overwrite: bool = False, quality: int = 18,
                            batch_size: int = 8, progress: Progress | None = None) -> list[VideoSummary]:
    """Stylizes every job's frames through `frame_pass`, then writes each output.

    Args:
      jobs: from `jobs.video.plan_jobs`.
      frame_pass: what stylizes a batch of frames (`NetworkPass`, `TransferPass`).
      record: what makes the frames besides the sources and sizes (files stamped, settings): a work folder
        holding another record's frames is refused without `overwrite`.
      size: the frames' longest side (None: each video's own size).
      flow_preset: the DIS preset of the warping error (`VideoSummary.temporal_error`).
      overwrite: start again where a work folder holds another run's frames; replace existing outputs.
      quality: the x264 CRF of output videos.
      batch_size: consecutive frames of a video per pass.
      progress: called with (frames done, frames in all, the frame just done or None) as frames finish.

    Returns:
      One VideoSummary per job: its warping error, and no style loss (nothing is optimised).

    Raises:
      StyleJaxError: before anything is written, for frames too small, a batch size that is not positive, or
        no OpenCV.
    """
    check_batch_size(batch_size)
    for job in jobs:
        frame_shape((job.info.height, job.info.width), size, frame_pass)
    flow.check_available()
    records = [{"source": file_stamp(job.source), **record, "size": size, "flow_preset": flow_preset,
                "start": job.start, "duration": job.duration, "fps": job.fps, "frames": job.info.frame_count}
               for job in jobs]

    def stylize(frames, on_frame, resumed):
        apply_one_pass_streams(frames, frame_pass, on_frame, size=size, done=resumed, batch_size=batch_size,
                               flow_preset=flow_preset)

    return run_frame_jobs(jobs, records, stylize, overwrite=overwrite, quality=quality, progress=progress)


def run_network_video_jobs(jobs: Sequence[VideoJob], model: str | Path, *, size: int | None,
                           style: int | Sequence[float] | None = None, **options) -> list[VideoSummary]:
    """Stylizes every job's frames through the network in `model`, then writes each output.

    Args:
      jobs: from `jobs.video.plan_jobs`.
      model: a model folder (`train_network`, `stylejax train`).
      size: the frames' longest side (None: each video's own size).
      style: the network's style: an index, a mix (one weight per style), or None (style 0).
      **options: `run_one_pass_video_jobs`'s flow_preset, overwrite, quality, batch_size and progress.

    Returns:
      One VideoSummary per job, as `run_one_pass_video_jobs`'s.

    Raises:
      StyleJaxError: before anything is written, for a folder that is no model, a style it lacks, or any
        input `run_one_pass_video_jobs` refuses.
    """
    frame_pass = NetworkPass(load_network(model), style)
    record = {"network": file_stamp(Path(model) / MODEL_JSON),
              "network_style": [float(w) for w in frame_pass.weights]}
    return run_one_pass_video_jobs(jobs, frame_pass, record, size=size, **options)


def run_transfer_video_jobs(jobs: Sequence[VideoJob], style: str | os.PathLike | Sequence[str | os.PathLike], *,
                            settings: TransferSettings, decoders: str | os.PathLike | None = None,
                            **options) -> list[VideoSummary]:
    """Stylizes every job's frames through the one-pass transfer with `style`, then writes each output.

    Args:
      jobs: from `jobs.video.plan_jobs`.
      style: one style image file or several (blended by `settings.style_blend`).
      settings: the transfer's method, alpha, levels, blend and colours; `size` is the frames' longest side
        (None: each video's own), `style_size` the paintings' (None: the frames').
      decoders: a decoders folder (`stylejax train-decoders`), or None for the shipped ones.
      **options: `run_one_pass_video_jobs`'s flow_preset, overwrite, quality, batch_size and progress.

    Returns:
      One VideoSummary per job, as `run_one_pass_video_jobs`'s.

    Raises:
      StyleJaxError: before anything is written, for a missing or damaged decoders folder, an unreadable or
        too small style image, a bad setting, or any input `run_one_pass_video_jobs` refuses.
    """
    styles = [style] if isinstance(style, str | os.PathLike) else list(style)
    frame_pass = TransferPass(load_transfer(decoders), styles, settings)
    folder = Path(decoders) if decoders is not None else shipped_decoders()
    record = {"decoders": file_stamp(folder / DECODERS_JSON), "styles": [file_stamp(s) for s in styles],
              "transfer": json.loads(json.dumps(dataclasses.asdict(settings)))}  # as read back: lists
    return run_one_pass_video_jobs(jobs, frame_pass, record, size=settings.size, **options)
