"""JAX's persistent compilation cache for the command line, and how long a run spent compiling.

Every shape and scale of a run compiles for seconds; a fleet re-runs the same shapes in every job
and on every host. With the cache on, a second run with the same shapes loads the compiled programs
from disk instead. This module touches the filesystem and JAX's global configuration, so the pure
core never imports it: the CLI turns it on.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import jax
from jax import monitoring

from stylejax.errors import StyleJaxError

# XLA compilation of one program, a load from the persistent cache included (jax/_src/dispatch.py).
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/stylejax/xla`, or `~/.cache/stylejax/xla` without XDG_CACHE_HOME."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stylejax" / "xla"


def enable_compile_cache(setting: str | None) -> Path | None:
    """Turns JAX's persistent compilation cache on (or off) for this process, before anything compiles.

    Args:
      setting: a directory; "off" (no persistent cache); or None: JAX_COMPILATION_CACHE_DIR if the
        environment sets it, else `default_cache_dir()`.

    Returns:
      The cache directory in use, or None when off.

    Raises:
      StyleJaxError: the directory is a file, or cannot be created or written.
    """
    if setting == "off":
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    if setting is None:
        setting = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(default_cache_dir())
    path = Path(setting).expanduser()
    if path.exists() and not path.is_dir():
        raise StyleJaxError(f"--compile-cache {setting}: exists and is not a directory (give a folder or 'off')")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StyleJaxError(f"--compile-cache {setting}: cannot create it ({e.strerror}): give another "
                            "folder or 'off'") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StyleJaxError(f"--compile-cache {setting}: not writable: give another folder or 'off'")
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    # Cache every program: JAX's default (1 s) skips the small ones, and a run has dozens of them.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path


class CompileTimer:
    """Seconds spent in XLA compilation (loads from the persistent cache included) while active.

    Counts every thread's compilations, so use one at a time. Example:

        with CompileTimer() as timer:
            stylejax.stylize(...)
        timer.seconds
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.programs = 0
        self._lock = threading.Lock()

    def _listener(self, event: str, duration: float, **kwargs) -> None:
        if event == BACKEND_COMPILE_EVENT:
            with self._lock:
                self.seconds += duration
                self.programs += 1

    def __enter__(self) -> CompileTimer:
        monitoring.register_event_duration_secs_listener(self._listener)
        return self

    def __exit__(self, *exc) -> None:
        monitoring.unregister_event_duration_listener(self._listener)

