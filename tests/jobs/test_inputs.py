"""A job's inputs: collected from a folder or a list, shared between hosts, planned into buckets, batched."""

from pathlib import Path

from sample_images import add_broken_images, smooth_image

from stylejax.io import images
from stylejax.jobs import inputs
from stylejax.jobs.manifest import Manifest


def make_folder(root: Path) -> Path:
    source = root / "in"
    for name, (h, w) in {"img01.png": (40, 50), "a/img02.png": (50, 40), "a/b/img03.png": (40, 52),
                         "tiny.png": (6, 40)}.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        images.save_image(smooth_image(h, w), source / name)
    add_broken_images(source)
    return source


def test_a_folder_is_searched_recursively_without_the_output_folder(tmp_path):
    source = make_folder(tmp_path)
    (source / "out").mkdir()
    images.save_image(smooth_image(40, 40), source / "out" / "img01.png")  # an output inside the inputs
    names = [item.name for item in inputs.collect_inputs(source, source / "out")]
    assert names == ["a/b/img03.png", "a/img02.png", "img01.png", "notes.png", "tiny.png", "truncated.png"]


def test_a_list_file_names_inputs_relative_to_itself_and_skips_comments(tmp_path):
    source = make_folder(tmp_path)
    listing = source / "list.txt"
    listing.write_text("# two of them\na/img02.png\n\n  a/b/img03.png\n")
    items = inputs.collect_inputs(listing, tmp_path / "out")
    assert [(item.source, item.name) for item in items] == [(source / "a/img02.png", "img02.png"),
                                                            (source / "a/b/img03.png", "b/img03.png")]


def test_hosts_share_the_inputs_disjointly_and_completely(tmp_path):
    items = inputs.collect_inputs(make_folder(tmp_path), tmp_path / "out")
    shares = [inputs.my_share(items, i, 3) for i in range(3)]
    names = [item.name for share in shares for item in share]
    assert sorted(names) == sorted(item.name for item in items) and len(set(names)) == len(items)
    assert shares[0] == inputs.my_share(list(reversed(items)), 0, 3)  # by name, not by listing order


def test_a_plan_records_finished_and_unreadable_inputs_and_buckets_the_rest(tmp_path):
    source, out = make_folder(tmp_path), tmp_path / "out"
    out.mkdir()
    images.save_image(smooth_image(8, 8), out / "img01.png")  # finished by an earlier run
    items = inputs.collect_inputs(source, out)
    manifest = Manifest(out, process=0)
    summary, pending = inputs.plan_job(items, out, manifest, lambda shape: (shape[0] // 8 * 8, shape[1] // 8 * 8),
                                       min_side=8)
    assert summary.skipped == 1
    assert sorted(name for name, _ in summary.failed) == ["notes.png", "tiny.png", "truncated.png"]
    assert {shape: [item.name for item in group] for shape, group in pending.items()} == {
        (48, 40): ["a/img02.png"], (40, 48): ["a/b/img03.png"]}
    assert [(record["input"], record["status"]) for record in manifest.latest().values()] == [
        ("img01.png", "skipped-existing"), ("notes.png", "failed"), ("tiny.png", "failed"),
        ("truncated.png", "failed")]
    batches = inputs.job_batches({(8, 8): items[:3], (16, 8): items[3:4]}, 2)
    assert [(shape, len(group)) for shape, group in batches] == [((8, 8), 2), ((8, 8), 1), ((16, 8), 1)]
