"""Video in one pass a frame: each frame's warping error is `temporal_error`'s, a resumed run continues, and the
one-pass transfer's frames are `OnePassTransfer.run`'s, a batch at a time."""

import numpy as np
import pytest
from sample_images import stripes
from style_networks import random_network
from tiny_decoders import decoder_folder
from video_clips import pan_frames

import stylejax
from stylejax.io.images import resize
from stylejax.network.model_dir import save_model
from stylejax.video.one_pass_frames import NetworkPass, TransferPass, apply_one_pass_streams, frame_shape
from stylejax.video.settings import Progress

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    save_model(folder, random_network(8, 1, seed=2), {"styles": [{"name": "a.png"}]})
    return stylejax.load_network(folder)


@pytest.fixture(scope="module")
def transfer(tmp_path_factory, weights_cache):
    return stylejax.load_transfer(decoder_folder(tmp_path_factory.mktemp("decoders"), ("relu1_1", "relu2_1")))


def run(frame_pass, frames, **kwargs):
    done = []
    apply_one_pass_streams([frames], frame_pass, lambda video, frame: done.append(frame), size=32, **kwargs)
    return done


@pytest.mark.slow
def test_the_mean_warping_error_is_temporal_error_of_the_frames(net):
    clip = pan_frames(5, 48, 64)
    frames = run(NetworkPass(net), clip, batch_size=2)
    assert [f.index for f in frames] == list(range(5)) and frames[0].image.shape == (24, 32, 3)
    assert frames[0].temporal_error is None and frames[0].losses == {}
    contents = [np.asarray(resize(c, (24, 32))) for c in clip]
    mean = np.mean([f.temporal_error for f in frames[1:]])
    assert mean == pytest.approx(stylejax.temporal_error([f.image for f in frames], contents), rel=1e-6)


@pytest.mark.slow
def test_a_resumed_run_gives_the_same_frames_and_errors(net):
    clip = pan_frames(4, 48, 64)
    whole = run(NetworkPass(net), clip)
    rest = run(NetworkPass(net), clip, done=[Progress(2, whole[1].working)])
    assert [f.index for f in rest] == [2, 3]
    for a, b in zip(whole[2:], rest, strict=True):
        np.testing.assert_allclose(a.image, b.image, atol=1e-5)  # another batch: float noise
        assert a.temporal_error == pytest.approx(b.temporal_error, rel=1e-3)


def test_transfer_frames_are_the_transfer_of_each_frame_with_the_painting_at_the_frames_size(transfer):
    clip = pan_frames(3, 48, 64)
    painting = stripes(40, 60)
    settings = stylejax.TransferSettings(method="wct", alpha=0.7)
    frames = run(TransferPass(transfer, painting, settings), clip, batch_size=2)
    assert [f.index for f in frames] == [0, 1, 2] and frames[0].image.shape == (24, 32, 3)
    assert frames[0].temporal_error is None and frames[1].temporal_error is not None
    style = resize(painting, (21, 32))  # the painting's long side the frames'
    for frame, content in zip(frames, clip, strict=True):
        alone = transfer.run(resize(content, (24, 32)), [style], settings)
        np.testing.assert_allclose(frame.image, alone, atol=1e-5)


def test_frames_too_small_for_one_pass_are_refused(net, transfer):
    assert frame_shape((48, 64), None, NetworkPass(net)) == (48, 64)
    with pytest.raises(stylejax.StyleJaxError, match="too small"):
        frame_shape((48, 640), 40, NetworkPass(net))
    # relu2_1 needs 4 px: the frame passes, a painting whose short side is then 2 px does not.
    frame_pass = TransferPass(transfer, stripes(4, 64), stylejax.TransferSettings())
    with pytest.raises(stylejax.StyleJaxError, match="`style` 1 is 32x2 px"):
        frame_shape((48, 64), 32, frame_pass)
