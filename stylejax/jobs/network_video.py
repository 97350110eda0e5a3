"""Resumable video jobs through a style network: one forward pass a frame, no optimisation.

The same jobs (`jobs.video.plan_jobs`), work folders and outputs as optimised video
(`jobs.video_work.run_frame_jobs`): frames saved as they finish, a run resumed after the last saved frame,
an output video encoded only when every frame is done, with the source's audio and frame timing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from stylejax.jobs.video_work import VideoJob, VideoSummary, file_stamp, run_frame_jobs
from stylejax.network.function import load_network
from stylejax.network.model_dir import MODEL_JSON
from stylejax.video import flow
from stylejax.video.network_frames import apply_network_streams, network_frame_shape
from stylejax.video.settings import VideoFrame


def run_network_video_jobs(jobs: Sequence[VideoJob], model: str | Path, *, size: int | None,
                           style: int | Sequence[float] | None = None, flow_preset: str = "medium",
                           overwrite: bool = False, quality: int = 18, batch_size: int = 8,
                           progress: Callable[[int, int, VideoFrame | None], None] | None = None
                           ) -> list[VideoSummary]:
    """Stylizes every job's frames through the network in `model`, then writes each output.

    Args:
      jobs: from `jobs.video.plan_jobs`.
      model: a model folder (`train_network`, `stylejax train`).
      size: the frames' longest side (None: each video's own size).
      style: the network's style: an index, a mix (one weight per style), or None (style 0).
      flow_preset: the DIS preset of the warping error (`VideoSummary.temporal_error`).
      overwrite: start again where a work folder holds another run's frames; replace existing outputs.
      quality: the x264 CRF of output videos.
      batch_size: consecutive frames of a video per forward pass.
      progress: called with (frames done, frames in all, the frame just done or None) as frames finish.

    Returns:
      One VideoSummary per job: its warping error, and no style loss (nothing is optimised).

    Raises:
      StyleJaxError: before anything is written, for a folder that is no model, a style it lacks, frames too
        small, a batch size that is not positive, or no OpenCV.
    """
    net = load_network(model)
    weights = net.style_weights(style)
    for job in jobs:
        network_frame_shape((job.info.height, job.info.width), size)
    flow.check_available()
    records = [{"source": file_stamp(job.source), "network": file_stamp(Path(model) / MODEL_JSON),
                "network_style": [float(w) for w in weights], "size": size, "flow_preset": flow_preset,
                "start": job.start, "duration": job.duration, "fps": job.fps, "frames": job.info.frame_count}
               for job in jobs]

    def stylize(frames, on_frame, resumed):
        apply_network_streams(frames, net, on_frame, size=size, style=weights, done=resumed, batch_size=batch_size,
                              flow_preset=flow_preset)

    return run_frame_jobs(jobs, records, stylize, overwrite=overwrite, quality=quality, progress=progress)
