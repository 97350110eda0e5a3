"""Video through a style network: each frame's warping error is `temporal_error`'s, and a resumed run continues."""

import numpy as np
import pytest
from style_networks import random_network
from video_clips import pan_frames

import stylejax
from stylejax.io.images import resize
from stylejax.network.model_dir import save_model
from stylejax.video.network_frames import apply_network_streams, network_frame_shape
from stylejax.video.settings import Progress

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    save_model(folder, random_network(8, 1, seed=2), {"styles": [{"name": "a.png"}]})
    return stylejax.load_network(folder)


def run(net, frames, **kwargs):
    done = []
    apply_network_streams([frames], net, lambda video, frame: done.append(frame), size=32, **kwargs)
    return done


@pytest.mark.slow
def test_the_mean_warping_error_is_temporal_error_of_the_frames(net):
    clip = pan_frames(5, 48, 64)
    frames = run(net, clip, batch_size=2)
    assert [f.index for f in frames] == list(range(5)) and frames[0].image.shape == (24, 32, 3)
    assert frames[0].temporal_error is None and frames[0].losses == {}
    contents = [np.asarray(resize(c, (24, 32))) for c in clip]
    mean = np.mean([f.temporal_error for f in frames[1:]])
    assert mean == pytest.approx(stylejax.temporal_error([f.image for f in frames], contents), rel=1e-6)


@pytest.mark.slow
def test_a_resumed_run_gives_the_same_frames_and_errors(net):
    clip = pan_frames(4, 48, 64)
    whole = run(net, clip)
    rest = run(net, clip, done=[Progress(2, whole[1].working)])
    assert [f.index for f in rest] == [2, 3]
    for a, b in zip(whole[2:], rest, strict=True):
        np.testing.assert_allclose(a.image, b.image, atol=1e-5)  # another batch: float noise
        assert a.temporal_error == pytest.approx(b.temporal_error, rel=1e-3)


def test_frames_too_small_for_the_network_are_refused():
    assert network_frame_shape((48, 64), None) == (48, 64)
    with pytest.raises(stylejax.StyleJaxError, match="too small"):
        network_frame_shape((48, 640), 40)
