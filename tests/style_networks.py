"""Style networks for the network tests, with weights drawn by numpy."""

import numpy as np


def random_network(width=8, num_styles=1, seed=0):
    """A StyleNetwork with weights drawn by numpy: the constructor's eager draws compile dozens of small
    programs (~15 s per process on a busy CPU). For tests that need *a* network, not its initialisation."""
    import jax
    from flax import nnx

    from stylejax.nn.style_network import StyleNetwork

    network = nnx.eval_shape(lambda: StyleNetwork(width, num_styles))
    rng = np.random.default_rng(seed)
    state = nnx.state(network, nnx.Param)
    # Conditional instance norm's scales around 1 as the constructor makes them; everything else around 0.
    state = jax.tree_util.tree_map_with_path(
        lambda path, a: np.asarray(rng.normal(size=a.shape) * 0.2 + ("scale" in jax.tree_util.keystr(path)),
                                   a.dtype), state)
    nnx.update(network, state)
    return network
