"""Training data: recursive search, a deterministic order, crops and flips, unreadable files skipped."""

import pickle

import numpy as np
import pytest

from stylejax.errors import StyleJaxError
from stylejax.network.data import TrainingImages, find_images


def test_finds_images_recursively_and_skips_and_counts_the_unreadable(photos):
    paths = find_images(photos)
    assert len(paths) == 6 and any("nested" in str(p) for p in paths)
    data = TrainingImages(paths, 32, 4, seed=1)
    data.check_readable()
    assert [p.name for p in data.unreadable] == ["broken.png"]
    batches = [b for _, b in data.batches(0, 3)]
    assert batches[0].shape == (4, 32, 32, 3) and batches[0].dtype == np.float32
    again = TrainingImages(paths, 32, 4, seed=1)
    np.testing.assert_array_equal(again.batch(2), batches[2])  # a function of (seed, step)
    assert not np.array_equal(TrainingImages(paths, 32, 4, seed=2).batch(2), batches[2])


def test_a_folder_without_images_or_with_none_readable_is_an_error(tmp_path):
    with pytest.raises(StyleJaxError, match="no image files"):
        find_images(tmp_path)
    (tmp_path / "a.png").write_text("no")
    data = TrainingImages(find_images(tmp_path), 32, 2, seed=0)
    with pytest.raises(StyleJaxError, match="none of the 1 training files"):
        data.check_readable()


def test_it_pickles_for_loaders_that_decode_in_worker_processes(photos):
    """docs/network.md: grain's worker processes can drive it (`benchmarks/network.py loader` does)."""
    data = TrainingImages(find_images(photos), 32, 4, seed=1)
    data.check_readable()
    copy = pickle.loads(pickle.dumps(data))
    assert copy.unreadable == data.unreadable
    np.testing.assert_array_equal(copy.batch(1), data.batch(1))
