"""Device memory: XLA's count of a compiled program, what a device can use, byte counts for people."""

import jax
import jax.numpy as jnp
import pytest

from stylejax.runtime import memory

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


def test_available_bytes_is_positive_here():
    available = memory.available_bytes()
    assert isinstance(available, int) and available > 0


@pytest.mark.parametrize("nbytes, text", [
    (512, "512 B"), (3 * 2**10, "3.0 KiB"), (820 * 2**20, "820 MiB"), (int(1.6 * 2**30), "1.6 GiB"),
])
def test_describe_reads_like_a_person_would_write_it(nbytes, text):
    assert memory.describe(nbytes) == text
