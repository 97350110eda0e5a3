"""The suite's xdist groups hold: tests that share a process-wide cost (jax2onnx's import, a Ray cluster, the
golden runs) are marked `xdist_group` so that one worker pays it; pytest 9.2 broke that silently."""

import pytest

pytestmark = pytest.mark.xdist_group("grouping-check")


def test_a_marked_test_runs_in_its_group_under_loadgroup(request):
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs under pytest-xdist's --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("@grouping-check")
