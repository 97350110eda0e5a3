"""The persistent compilation cache: a second identical run loads its programs instead of compiling."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sample_images import smooth_image, stripes

from stylejax import cli
from stylejax.cli.compile_cache import default_cache_dir
from stylejax.io import images

COMPILING = re.compile(r"of which compiling ([0-9.]+) s")


def stylize(tmp_path, cache, out):
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR")  # the test session's cache: this test brings its own
    env.pop("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")  # the CLI must cache small programs itself
    argv = [sys.executable, "-m", "stylejax", "stylize", tmp_path / "content.png", tmp_path / "style.png",
            "-o", out, "--size", "48", "--steps", "3", "--optimizer", "adam", "--compile-cache", cache, "--verbose"]
    done = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    match = COMPILING.search(done.stderr)
    assert match, done.stderr  # --verbose prints the summary line to a pipe
    return float(match.group(1))


@pytest.mark.slow
@pytest.mark.heavy
def test_second_identical_run_does_not_compile(tmp_path):
    images.save_image(smooth_image(48, 40), tmp_path / "content.png")
    images.save_image(stripes(48, 48), tmp_path / "style.png")
    cache = tmp_path / "xla"
    first = stylize(tmp_path, cache, tmp_path / "a.png")
    assert any(cache.iterdir())
    second = stylize(tmp_path, cache, tmp_path / "b.png")
    print(f"compiling: first run {first:.2f} s, second {second:.2f} s")
    assert second < 1.0 and second < first / 2, (first, second)


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "stylejax" / "xla"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "stylejax" / "xla"


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("x"), "not a directory"),
    (lambda p: None, "cannot create it"),
])
def test_a_bad_cache_path_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    images.save_image(smooth_image(48, 40), tmp_path / "content.png")
    images.save_image(stripes(48, 48), tmp_path / "style.png")
    bad = tmp_path / "cache"
    make(bad)
    if not bad.exists():  # a folder inside a file cannot be created
        (tmp_path / "file").write_text("x")
        bad = tmp_path / "file" / "xla"
    code = cli.main(["stylize", str(tmp_path / "content.png"), str(tmp_path / "style.png"), "-o",
                     str(tmp_path / "out.png"), "--size", "40", "--steps", "2", "--compile-cache", str(bad)])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.png").exists()
