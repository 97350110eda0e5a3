"""Video: temporally consistent stylization, frame after frame (Ruder, Dosovitskiy & Brox 2016).

A sequential driver on top of the batch solver. A video's first frame runs the whole coarse-to-fine
scales. Every later frame starts from the previous output warped into it by the content's optical
flow, and a temporal term pulls it towards that warped frame wherever the flow is reliable. The warped
frame and its reliability are per-image arguments like content targets, never constants baked into a
program: one compiled program per shape serves a whole video, and frame t of many same-shape videos
is one batch (in lockstep on an accelerator, split across devices).

What a frame hands the next is its raw output at the working shape (`VideoFrame.working`), before
colours are kept or the frame is resized to its own aspect ratio, and, for an optimizer with per-pixel
state (Adam), that state, which the next frame takes over warped by the flow (`warm_start`). A resumable
job saves both, so a run resumed after an interruption continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from stylejax.config import StyleConfig, check_batch_size
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io import masks as masks_io
from stylejax.io.images import ImageLike, as_image, style_list, working_shape
from stylejax.nn.weights import load_vgg
from stylejax.objective.gatys import Temporal
from stylejax.optim.loop import RunState, averaged_image
from stylejax.optim.optimizers import resolve_optimizer
from stylejax.runtime.buckets import bucket_shape
from stylejax.runtime.meshes import local_mesh
from stylejax.solve import scales
from stylejax.solve.coarse_to_fine import CoarseToFineSolver
from stylejax.solve.problem import finish_image, initial_image
from stylejax.solve.sizing import check_memory
from stylejax.video import flow, warm_start
from stylejax.video.settings import Progress, VideoFrame, VideoSettings, frame_config


class FrameBatch(NamedTuple):
    """A batch of frames done: outputs (n, h, w, 3) at the working shape, the loss terms of each, each
    one's optimizer state to carry (None where the optimizer restarts at every frame), and, for later
    frames, the temporal targets they were pulled towards."""

    outputs: np.ndarray
    losses: list[dict[str, float]]
    states: list[optax.OptState | None]
    temporal: Temporal | None = None


def check(config: StyleConfig, shapes: Sequence[tuple[int, int]], settings: VideoSettings | None = None) -> None:
    """Raises StyleJaxError, before any work, for what videos of these frame shapes (h, w) cannot do: tiles
    (frames are whole images), frames too small for VGG, a learning rate for a line search, no weights or OpenCV."""
    CoarseToFineSolver.check_batchable(config)
    try:
        resolve_optimizer(frame_config(config, settings or VideoSettings()))
    except StyleJaxError as error:
        raise StyleJaxError(f"frame learning rate: {error}") from error
    for shape in shapes:
        for scale in scales.plan_scales(config):
            working_shape(shape, scale.size, "video frame")
    load_vgg(config.model, pooling=config.pooling)
    flow.check_available()


class FrameSolver:
    """Optimises frame t of many same-shape videos as one batch.

    `first_frames` runs every scale of the config; `next_frames` runs one full-size scale of
    `settings.frame_steps` steps with the temporal term. Both hold their compiled programs across calls.
    """

    def __init__(self, style: ImageLike | Sequence[ImageLike], config: StyleConfig, settings: VideoSettings,
                 shape: tuple[int, int], *, mesh: Mesh | None = None, vmap_size: int | str | None = "auto",
                 style_masks: Sequence[np.ndarray | None] | None = None):
        self.config, self.settings, self.shape = config, settings, shape
        self.first = CoarseToFineSolver(style_list(style), config, mesh, vmap_size, style_masks=style_masks)
        final = self.first.final  # later frames share its style targets, and its programs at its learning rate
        weights = final.shared.weights._replace(temporal=jnp.float32(settings.temporal_weight))
        self.later = dataclasses.replace(final, config=frame_config(final.config, settings),
                                         shared=final.shared._replace(weights=weights))
        self.optimizer = resolve_optimizer(self.later.config)
        self.carries = warm_start.carries(self.optimizer, shape)

    def first_frames(self, contents: Sequence[np.ndarray], *, masks: Sequence[np.ndarray] | None = None,
                     on_chunk: Callable[[int, int], None] | None = None) -> FrameBatch:
        """contents: frames at `shape`, with their region masks (r, h, w) if any; `on_chunk(steps done, steps)`
        after each chunk."""
        total = scales.total_steps(self.config)
        progress = None if on_chunk is None else (lambda done, pixels, history: on_chunk(done, total))
        outcome = self.first.solve(contents, self.first.bucket_shapes(self.shape), masks=masks, on_chunk=progress)
        n = len(contents)
        return FrameBatch(outcome.images[:n], outcome.losses[:n], self._states(outcome.state, n))

    def next_frames(self, contents: Sequence[np.ndarray], previous_contents: Sequence[np.ndarray],
                    previous_outputs: Sequence[np.ndarray], *, masks: Sequence[np.ndarray] | None = None,
                    previous_states: Sequence[optax.OptState | None] | None = None,
                    on_chunk: Callable[[int, int], None] | None = None) -> FrameBatch:
        """Frames at `shape`, each with its video's previous content frame, output and optimizer state
        (`FrameBatch.states`; None: the optimizer starts afresh), and region masks if any; `on_chunk` as in
        `first_frames`."""
        targets = warm_start.frame_targets(contents, previous_contents, previous_outputs, self.settings.flow_preset)
        init = self.settings.frame_init
        fresh = "noise" if init == "noise" else "content"  # "warped" starts from the content where unreliable
        starts = [initial_image(self.later.config.replace(init=fresh), jnp.asarray(c)) for c in contents]
        previous = None
        if init == "warped":  # where the flow says nothing (new picture at an edge), start from the content
            starts = list(warm_start.blend(targets.temporal.reliability, targets.temporal.warped, jnp.stack(starts)))
            if self.carries and previous_states is not None and all(s is not None for s in previous_states):
                previous = warm_start.moved_state(self.optimizer, previous_states, targets, starts,
                                                  self.later.padded(len(contents)))
        chunk = None if on_chunk is None else (lambda state, history: on_chunk(history.shape[1],
                                                                               self.later.config.steps))
        state, _, terms = self.later.solve(
            [jnp.asarray(c) for c in contents], init_images=starts, previous=previous,
            temporal=targets.temporal if self.settings.temporal_weight > 0 else None, on_chunk=chunk,
            masks=None if masks is None else [images.resize_mask(m, self.shape)[..., 0] for m in masks])
        n = len(contents)
        outputs = np.asarray(averaged_image(state, self.later.config.ema_decay))[:n]
        return FrameBatch(outputs, terms[:n], self._states(state, n), targets.temporal)

    def _states(self, state: RunState | None, count: int) -> list[optax.OptState | None]:
        if state is None or not self.carries:
            return [None] * count
        return warm_start.state_rows(state, count)


@dataclasses.dataclass
class _Stream:
    """A video in progress: its content frames still to come, and what its next frame needs."""

    frames: Iterator[np.ndarray]
    masks: Iterator[np.ndarray] | None = None  # each frame's region masks (r, h, w), if any
    index: int = 0  # the next frame's index
    content: np.ndarray | None = None  # the previous content frame, at the working shape
    output: np.ndarray | None = None  # the previous raw output, at the working shape
    original: np.ndarray | None = None  # the previous content frame as read
    image: np.ndarray | None = None  # the previous finished frame (`VideoFrame.image`)
    state: optax.OptState | None = None  # the previous frame's optimizer state, if it carries
    pending: np.ndarray | None = None  # the next content frame, read ahead
    pending_masks: np.ndarray | None = None  # its region masks
    finished: bool = False

    def advance(self) -> np.ndarray | None:
        """The next content frame, or None at the end of the video."""
        if self.pending is None and not self.finished:
            self.pending = next(self.frames, None)
            self.finished = self.pending is None
            if self.masks is not None and not self.finished:
                self.pending_masks = next(self.masks)
        return self.pending


def stylize_streams(videos: Sequence[Iterable[np.ndarray]], style: ImageLike | Sequence[ImageLike],
                    config: StyleConfig, settings: VideoSettings, on_frame: Callable[[int, VideoFrame], None], *,
                    done: Sequence[Progress] | None = None,
                    masks: Sequence[Iterable[np.ndarray]] | None = None,
                    style_masks: Sequence[np.ndarray | None] | None = None, batch_size: int = 8,
                    mesh: Mesh | None = None, vmap_size: int | str | None = "auto",
                    on_chunk: Callable[[int, int], None] | None = None,
                    log: Callable[[str], None] | None = None) -> None:
    """Stylizes many videos at once: frame t of every video of one working shape is one batch.

    Args:
      videos: each video's content frames, (h, w, 3) float32 in [0, 1], all of one size per video.
      style: the style image(s).
      config: the StyleConfig (each video's first frame runs its scales).
      settings: the video settings.
      on_frame: called with (video index, VideoFrame) as each frame is done, in frame order per video.
      done: per video, the `Progress` to resume after; the frames already done are read from `videos`
        and skipped.
      masks: per video, each frame's region masks (r, h, w), one per style (`masks_io.frame_masks`).
      style_masks: with `masks`, per style the part of the painting to take from (None: all of it).
      batch_size: frames (of different videos) per batch, across all devices.
      mesh: a 1-D ("data",) mesh; default: as many local devices as there are videos, up to `batch_size`.
      vmap_size: frames per device optimised in lockstep (see `stylize_batch`).
      on_chunk: called with (steps done, steps) within the frames being optimised.
      log: receives a line on what a batch of frames needs in memory, checked (and refused where it
        cannot fit) before a shape's first frame is optimised.
    """
    check_batch_size(batch_size)
    if mesh is None:  # no more devices than videos side by side: the rest would only optimise padding
        mesh = local_mesh(jax.local_devices()[:max(1, min(len(videos), batch_size))])
    if masks is not None and style_masks is None:
        style_masks = [None] * len(style_list(style))
    streams = [_Stream(iter(frames), None if masks is None else iter(masks[i])) for i, frames in enumerate(videos)]
    for stream, (count, last, state) in zip(streams, done or [Progress(0, None)] * len(streams), strict=True):
        for _ in range(count):  # frames finished before an interruption: the last one's content is needed
            if stream.advance() is None:
                break
            shape = bucket_shape(stream.pending.shape[:2], config.size)
            stream.content = np.asarray(images.resize(stream.pending, shape))
            stream.original, stream.pending = stream.pending, None
            stream.index += 1
        if count:  # the finished frame is a pure function of the raw output: made again, not read back
            stream.output, stream.image, stream.state = last, finish_image(last, stream.original, config), state
    solvers: dict[tuple[int, int], FrameSolver] = {}
    while active := [i for i, s in enumerate(streams) if s.advance() is not None]:
        groups: dict[tuple[tuple[int, int], bool], list[int]] = {}
        for i in active:
            shape = bucket_shape(streams[i].pending.shape[:2], config.size)
            groups.setdefault((shape, streams[i].index == 0), []).append(i)
        for (shape, first), members in groups.items():
            if shape not in solvers:
                solvers[shape] = FrameSolver(style, config, settings, shape, mesh=mesh, vmap_size=vmap_size,
                                             style_masks=style_masks)
                check_memory(solvers[shape].first.final, [shape], min(batch_size, len(members)),
                             log or (lambda line: None))
            for start in range(0, len(members), batch_size):
                _frame_batch(solvers[shape], [streams[i] for i in members[start:start + batch_size]],
                             members[start:start + batch_size], first=first, on_frame=on_frame, on_chunk=on_chunk)


def _frame_batch(solver: FrameSolver, streams: list[_Stream], ids: list[int], *, first: bool,
                 on_frame: Callable[[int, VideoFrame], None], on_chunk: Callable[[int, int], None] | None) -> None:
    """One batch of frames (frame 0 of each video if `first`), each video's `ids` entry handed to `on_frame`."""
    originals = [s.pending for s in streams]
    contents = [np.asarray(images.resize(frame, solver.shape)) for frame in originals]
    masks = None if streams[0].masks is None else [s.pending_masks for s in streams]
    if first:
        done = solver.first_frames(contents, masks=masks, on_chunk=on_chunk)
    else:
        done = solver.next_frames(contents, [s.content for s in streams], [s.output for s in streams], masks=masks,
                                  previous_states=[s.state for s in streams], on_chunk=on_chunk)
    for row, (stream, video, original) in enumerate(zip(streams, ids, originals, strict=True)):
        image = finish_image(done.outputs[row], original, solver.config)
        error = None if first else _warping_error(stream, image, original, solver.settings.flow_preset)
        stream.content, stream.output, stream.pending = contents[row], done.outputs[row], None
        stream.original, stream.image, stream.state = original, image, done.states[row]
        on_frame(video, VideoFrame(stream.index, image, done.outputs[row], done.losses[row], error, done.states[row]))
        stream.index += 1


def _warping_error(stream: _Stream, image: np.ndarray, original: np.ndarray, preset: str) -> float:
    """`flow.warping_error` of a finished frame against the stream's previous one, as `temporal_error`
    measures a finished video: finished frames, content frames at their size."""
    shape = image.shape[:2]
    return flow.warping_error(stream.image, image, np.asarray(images.resize(stream.original, shape)),
                              np.asarray(images.resize(original, shape)), preset)


def stylize_video(source: str | Iterable[ImageLike], style: ImageLike | Sequence[ImageLike],
                  config: StyleConfig | None = None, settings: VideoSettings | None = None, *,
                  start: float = 0.0, duration: float | None = None, fps: float | None = None,
                  masks: Sequence[str | ImageLike] | None = None, **overrides) -> list[VideoFrame]:
    """Stylizes a video with temporal consistency (Ruder et al. 2016), frame after frame.

    Args:
      source: a video file, a folder of frames, or a sequence of (h, w, 3) frames (float in [0, 1] or uint8).
      style: a path or array, or a sequence of them (blended by `config.style_blend`).
      config: settings; `config.steps` are the first frame's steps per scale. `**overrides` change its fields.
      settings: the video settings (later frames' steps, temporal weight, initialisation, flow).
      start: seconds into a video file or folder to begin at.
      duration: seconds of it to stylize (None: all).
      fps: the rate to sample it at (None: every frame).
      masks: one region mask per style: an image or array (every frame) or a folder of frames (one per
        frame stylized); see `stylejax.io.masks`.

    Returns:
      The stylized frames, in order.

    Example:
      >>> frames = stylejax.stylize_video("clip.mp4", "starry_night.jpg", size=256)
    """
    from stylejax.video import reading

    config = (config or StyleConfig()).replace(**overrides)
    settings = settings or VideoSettings()
    if isinstance(source, str) or hasattr(source, "__fspath__"):
        frames: Iterable[np.ndarray] = reading.read_frames(source, start=start, duration=duration, fps=fps)
    else:
        frames = (as_image(frame, f"frame {i}") for i, frame in enumerate(source))
    results: list[VideoFrame] = []
    mask_frames = None
    if masks is not None:
        frames = iter(frames)
        first = next(frames, None)
        if first is None:
            raise StyleJaxError("the video has no frames")
        frames = itertools.chain([first], frames)
        mask_frames = [masks_io.frame_masks(masks, len(style_list(style)), first.shape[:2])]
    stylize_streams([_same_size(frames)], style, config, settings, lambda _, frame: results.append(frame),
                    masks=mask_frames)
    if not results:
        raise StyleJaxError("the video has no frames")
    return results


def _same_size(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    size = None
    for i, frame in enumerate(frames):
        if size is not None and frame.shape != size:
            raise StyleJaxError(f"frame {i} is {frame.shape[1]}x{frame.shape[0]} but frame 0 is "
                                f"{size[1]}x{size[0]}: every frame of a video must have one size")
        size = frame.shape
        yield frame
