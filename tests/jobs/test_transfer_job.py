"""`stylejax transfer`'s job: a photo of its bucket's shape comes out as the library gives it, a job killed and
rerun loses and redoes nothing, region masks per photo (one that does not fit fails alone), the work as a
Ray worker runs it, a size too large for memory refused before anything is written. Tiny random decoders
at relu1_1 and relu2_1."""

import json
from collections import Counter

import jax.numpy as jnp
import numpy as np
import pytest
from sample_images import smooth_image, stripes
from tiny_decoders import decoder_folder

import stylejax
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.jobs import inputs
from stylejax.jobs import transfer as transfer_job
from stylejax.jobs.fleet_workers import FleetWorker
from stylejax.runtime import memory

SHAPES = [(32, 48), (40, 40), (30, 45)]  # buckets (32, 48), (48, 48), (32, 48)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, weights_cache):
    return decoder_folder(tmp_path_factory.mktemp("decoders"), ("relu1_1", "relu2_1"))


@pytest.fixture(scope="module")
def transfer(folder):
    return stylejax.load_transfer(folder)


def photos(root, count):
    source = root / "in"
    source.mkdir()
    for i in range(count):
        images.save_image(smooth_image(*SHAPES[i % 3], seed=i), source / f"p{i}.png")
    images.save_image(stripes(40, 36), root / "style.png")
    return source


def manifest(outdir):
    return [json.loads(line) for line in (outdir / "manifest.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_photo_of_its_bucket_s_shape_comes_out_as_the_library_gives_it(transfer):
    photo, painting = smooth_image(32, 48, 0), stripes(40, 36)
    out = transfer_job.transfer_image(transfer, photo, [painting], log=lambda line: None)
    styles = [images.resize(painting, images.fit_size(painting.shape[:2], 48))]  # the output's long side
    np.testing.assert_allclose(out, transfer.run(jnp.asarray(photo), styles), atol=1e-4)  # vmap rounds apart
    assert np.abs(out - photo).mean() > 0.05  # it did something


@pytest.mark.slow
def test_a_batch_in_lockstep_is_the_batch_one_photo_after_another(transfer):
    from stylejax.network.transfer_inference import BucketedTransfer

    batch = [smooth_image(32, 48, 0), smooth_image(30, 45, 1)]  # one bucket, (32, 48)
    outputs = [BucketedTransfer(transfer, (stripes(40, 36),), stylejax.TransferSettings(),
                                lockstep=lockstep, batch_size=2, log=lambda line: None)(batch)
               for lockstep in (False, True)]
    for one_by_one, lockstep, photo in zip(*outputs, batch, strict=True):
        assert one_by_one.shape == photo.shape
        np.testing.assert_allclose(one_by_one, lockstep, atol=1e-4)


@pytest.mark.slow
def test_a_job_killed_after_its_first_batch_and_rerun_loses_and_redoes_nothing(transfer, tmp_path, monkeypatch):
    source, out = photos(tmp_path, 6), tmp_path / "out"
    items = inputs.collect_inputs(source, out)
    style = [tmp_path / "style.png"]
    run_batch, calls = transfer_job.run_transfer_batch, []

    def killed_in_the_second_batch(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return run_batch(*args)

    monkeypatch.setattr(transfer_job, "run_transfer_batch", killed_in_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        transfer_job.run_transfer_job(items, transfer, style, out, batch_size=2, log=lambda line: None)
    first = {r["input"]: (out / r["input"]).stat().st_mtime_ns for r in manifest(out)}
    assert len(first) == 2 and all(r["status"] == "done" for r in manifest(out))
    monkeypatch.setattr(transfer_job, "run_transfer_batch", run_batch)

    summary = transfer_job.run_transfer_job(items, transfer, style, out, batch_size=2, log=lambda line: None)
    assert (summary.skipped, summary.done, summary.failed) == (2, 4, [])
    done = Counter(r["input"] for r in manifest(out) if r["status"] == "done")
    assert set(done) == {item.name for item in items} and set(done.values()) == {1}  # each exactly once
    for name, mtime in first.items():
        assert (out / name).stat().st_mtime_ns == mtime  # never rewritten
    for item in items:
        assert images.load_image(out / item.name).shape == images.load_image(item.source).shape


@pytest.mark.slow
def test_each_photo_takes_its_own_region_masks_and_one_that_does_not_fit_fails_alone(transfer, tmp_path):
    source, out = photos(tmp_path, 2), tmp_path / "out"
    images.save_image(smooth_image(48, 48, 9), tmp_path / "sky.png")
    style = [tmp_path / "style.png", tmp_path / "sky.png"]
    left = np.zeros((32, 48, 3), np.float32)
    left[:, :24] = 1
    for stem, mask in (("style", left), ("sky", 1 - left)):
        (tmp_path / "masks" / stem).mkdir(parents=True)
        images.save_image(mask, tmp_path / "masks" / stem / "p0.png")
        images.save_image(mask, tmp_path / "masks" / stem / "p1.png")  # p1 is 40x40: not its aspect ratio
    items = inputs.collect_inputs(source, out)
    with pytest.raises(StyleJaxError, match="`style_blend` mixes the styles everywhere and `masks_dir`"):
        transfer_job.run_transfer_job(items, transfer, style, out, masks_dir=tmp_path / "masks",
                                      settings=stylejax.TransferSettings(style_blend=(1, 1)))
    assert not out.exists()
    summary = transfer_job.run_transfer_job(items, transfer, style, out, masks_dir=tmp_path / "masks",
                                            log=lambda line: None)
    assert summary.done == 1 and [name for name, _ in summary.failed] == ["p1.png"]
    assert "aspect ratio" in summary.failed[0][1]
    whole = transfer_job.transfer_image(transfer, images.load_image(source / "p0.png"), style[:1],
                                        log=lambda line: None)
    regions = images.load_image(out / "p0.png")
    # The left half takes the first painting, as the whole photo does with it alone; the right the other.
    assert np.abs(regions[:, :20] - whole[:, :20]).mean() < np.abs(regions[:, 28:] - whole[:, 28:]).mean()


def test_the_work_runs_on_a_fleet_worker_from_its_settings_alone(folder, tmp_path):
    source, out = photos(tmp_path, 2), tmp_path / "out"
    settings = stylejax.TransferSettings(size=40, method="adain", levels=("relu2_1",))
    work = transfer_job.TransferWork(str(folder), [str(tmp_path / "style.png")], settings, out)
    assert work.min_side == 4 and work.bucket((300, 200)) == (48, 32)
    worker = FleetWorker(work)  # what a Ray actor holds: the work loads the decoders itself
    items = inputs.collect_inputs(source, out)
    lines, refusal = worker.check_memory({work.bucket((32, 48)): 1, work.bucket((40, 40)): 1}, 8)
    assert refusal is None and len(lines) == 2
    out.mkdir()
    records, error = worker.run((32, 48), items[:1])
    assert error is None and [r["status"] for r in records] == ["done"]
    assert images.load_image(out / "p0.png").shape == (27, 40, 3)


def test_a_size_too_large_for_memory_is_refused_before_anything_is_written(transfer, tmp_path, monkeypatch):
    source, out = photos(tmp_path, 1), tmp_path / "out"
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**10)
    with pytest.raises(StyleJaxError, match=r"`size` 48 \(48x32\) needs .* use a smaller `size`"):
        transfer_job.run_transfer_job(inputs.collect_inputs(source, out), transfer, [tmp_path / "style.png"], out,
                                      settings=stylejax.TransferSettings(size=48), log=lambda line: None)
    assert not out.exists()
