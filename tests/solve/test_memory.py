import jax
import jax.numpy as jnp
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax.objective import targets
from stylejax.optim import loop, optimizers
from stylejax.solve import memory

N = 256 * 256 * 4  # bytes of one (256, 256) f32 buffer


def test_compiled_bytes_matches_a_hand_count():
    a = jnp.ones((256, 256), jnp.float32)

    def f(a, b):
        return jnp.tanh(2 * a + b)  # one elementwise fusion: no temporary buffer

    plain = memory.compiled_bytes(jax.jit(f).lower(a, a).compile())
    donated = memory.compiled_bytes(jax.jit(f, donate_argnums=0).lower(a, a).compile())
    # Two arguments and one output (a few bytes of slack for scalars).
    assert 3 * N <= plain <= 3 * N + 1024
    # The output reuses `a`'s buffer: counted once.
    assert 2 * N <= donated <= 2 * N + 1024

    matmul = memory.compiled_bytes(jax.jit(lambda a, b: jnp.tanh(a @ b)).lower(a, a).compile())
    assert 3 * N <= matmul <= 4 * N  # at most the product as a temporary besides


def test_compiled_bytes_is_zero_without_an_analysis():
    class NoAnalysis:
        def memory_analysis(self):
            return None

    assert memory.compiled_bytes(NoAnalysis()) == 0


def test_lower_bound_grows_with_pixels_and_never_overflows():
    small, wide = memory.lower_bound_bytes((64, 64)), memory.lower_bound_bytes((64, 128))
    assert 0 < small < wide and wide == 2 * small
    huge = memory.lower_bound_bytes((66_667, 100_000))  # --size 100000
    assert isinstance(huge, int) and huge > 2**40
    assert memory.describe(huge).endswith("TiB")


def test_lower_bound_is_below_what_a_real_step_needs(vgg16):
    shape = (64, 64)
    config = stylejax.StyleConfig(size=64, optimizer="adam")
    objective, args, content = targets.prepare(vgg16, smooth_image(*shape), [stripes(48, 48)], config)
    optimizer = optimizers.make_optimizer("adam")
    state = loop.init_state_jit(objective, optimizer, content, args)
    compiled = loop.run_steps_jit.lower(objective, optimizer, state, jnp.int32(1), args, 1).compile()
    analysis = compiled.memory_analysis()
    bound = memory.lower_bound_bytes(shape)
    print(f"64 px step: bound {memory.describe(bound)}, XLA {memory.describe(memory.compiled_bytes(compiled))}")
    # Also below what is not weights: the bound counts pixels and activations, which live there.
    assert bound < analysis.temp_size_in_bytes + analysis.output_size_in_bytes
    assert bound < memory.compiled_bytes(compiled)


def test_available_bytes_is_positive_here():
    available = memory.available_bytes()
    assert isinstance(available, int) and available > 0


@pytest.mark.parametrize("nbytes, text", [
    (512, "512 B"), (3 * 2**10, "3.0 KiB"), (820 * 2**20, "820 MiB"), (int(1.6 * 2**30), "1.6 GiB"),
])
def test_describe_reads_like_a_person_would_write_it(nbytes, text):
    assert memory.describe(nbytes) == text
