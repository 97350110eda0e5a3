"""`config.check_batch_size`: the one check of a batch size, wherever one is asked."""

import numpy as np
import pytest

from stylejax import StyleJaxError
from stylejax.config import check_batch_size


@pytest.mark.parametrize("batch_size", [1, 8, np.int64(4)])
def test_a_positive_whole_batch_size_passes(batch_size):
    check_batch_size(batch_size)


@pytest.mark.parametrize("batch_size", [0, -2, 2.0, True, "8", None])
def test_anything_else_is_refused_naming_the_parameter(batch_size):
    with pytest.raises(StyleJaxError, match="`batch_size` must be a positive whole number"):
        check_batch_size(batch_size)
