"""`io.atomic`: a file appears whole or not at all; what a killed writer leaves is found and removed."""

import json

import pytest

from stylejax.io.atomic import atomic_output, remove_partial_outputs


def test_a_completed_block_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "model.json"
    path.write_text("old")
    with atomic_output(path) as tmp:
        assert tmp.parent == tmp_path and tmp != path
        tmp.write_text(json.dumps({"new": 1}))
        assert path.read_text() == "old"  # a reader sees the old file until the block ends
    assert json.loads(path.read_text()) == {"new": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_failed_block_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    path = tmp_path / "net.jaxexport"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(path) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["net.jaxexport"]


def test_a_killed_writer_s_partial_output_is_removed_and_no_other(tmp_path):
    path = tmp_path / "cat[1].png"  # glob characters in a name match only themselves
    with pytest.raises(KeyboardInterrupt), atomic_output(path) as tmp:
        partial = tmp.with_name(tmp.name.replace(".tmp-", ".tmp-dead"))  # what SIGKILL would leave
        tmp.rename(partial)
        raise KeyboardInterrupt
    others = [tmp_path / ".cat[1].tmp-x.jpg", tmp_path / ".cat1.tmp-x.png", tmp_path / ".dog.tmp-x.png"]
    for other in others:
        other.write_bytes(b"x")
    remove_partial_outputs(path)
    assert not partial.exists() and all(other.exists() for other in others)
