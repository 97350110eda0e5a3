"""Shape buckets: an optimisation's rounded short side, a style network's padded sides."""

from stylejax.runtime.buckets import apply_bucket, bucket_shape, planned_bucket


def test_optimisation_buckets_round_the_short_side():
    assert bucket_shape((300, 451), 256) == (176, 256)
    assert bucket_shape((451, 300), 256) == (256, 176)
    assert bucket_shape((100, 1000), 256) == (32, 256)  # never below the network's minimum
    assert bucket_shape((40, 64), 64) == (48, 64)  # a half rounds up
    assert bucket_shape((39, 64), 64) == (32, 64)


def test_network_buckets_pad_each_side_by_at_most_a_sixteenth_and_group_similar_shapes():
    assert apply_bucket((40, 52)) == (48, 64) and apply_bucket((48, 64)) == (48, 64)
    assert apply_bucket((1000, 1500)) == (1024, 1536)  # 32 px steps from 512, 64 from 1024
    for side in range(8, 5000, 7):
        padded = apply_bucket((side, side))[0]
        assert side <= padded < side + max(16, side / 16)
    assert planned_bucket((300, 400), 64) == (48, 64)  # at --size: the output's shape, bucketed
