"""Ray fleets on a local two-CPU cluster: broken inputs, a worker killed mid-batch, a driver killed, bad input."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from ports import free_port
from sample_images import add_broken_images, smooth_image, stripes
from test_batch_job import manifest
from test_recovery import diverge_batches

import stylejax
from stylejax import cli
from stylejax.config import StyleConfig
from stylejax.io import images
from stylejax.jobs import fleet, fleet_workers, inputs
from stylejax.jobs.batch import StylizeWork
from stylejax.jobs.checkpoints import CHECKPOINTS
from stylejax.runtime.buckets import bucket_shape

# One xdist worker runs this module: its module-scoped fixture (a Ray cluster, a benchmark run) is costly.
pytestmark = [pytest.mark.xdist_group("ray-cluster"), pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(vgg16):
    """A local Ray with 2 CPUs; its workers inherit the weights cache (ported already) and one CPU device each."""
    import ray

    flags = os.environ.get("XLA_FLAGS")
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"  # raylet and workers copy the env now
    try:
        ray.init(num_cpus=2, include_dashboard=False, namespace=fleet.NAMESPACE, log_to_driver=False)
    finally:
        if flags is None:
            os.environ.pop("XLA_FLAGS")
        else:
            os.environ["XLA_FLAGS"] = flags
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def make_inputs(root: Path, count: int, broken: bool = False) -> Path:
    """`count` images of one shape bucket (one compiled program, shared by every test through JAX's cache),
    plus a non-image and a truncated PNG when `broken`."""
    source = root / "in"
    source.mkdir(parents=True)
    for i in range(count):
        images.save_image(smooth_image(40 + i % 3, 50, seed=i), source / f"img{i:02d}.png")
    if broken:
        add_broken_images(source)
    images.save_image(stripes(48, 48), root / "style.png")
    return source


def argv(root: Path, *extra: str, steps: int = 8) -> list[str]:
    return ["batch", str(root / "in"), "--style", str(root / "style.png"), "-o", str(root / "out"), "--size", "40",
            "--steps", str(steps), "--optimizer", "adam", "--checkpoint-every", "4", "--workers", "2", *extra]


def workers_of(pid: int) -> list:
    """Handles of the live workers a driver process started."""
    import ray

    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
             if a["name"].startswith(f"{fleet.WORKER_PREFIX}-{pid}@")]
    handles = []
    for name in names:
        try:
            handles.append(ray.get_actor(name, namespace=fleet.NAMESPACE))
        except ValueError:  # it died between the listing and the lookup: not live
            continue
    return handles


def partial_files(out: Path) -> list[Path]:
    return [p for p in out.rglob(".*") if p.is_file() and CHECKPOINTS not in p.parts]


@pytest.mark.heavy
def test_twelve_inputs_two_broken_each_done_exactly_once(cluster, tmp_path, capsys):
    make_inputs(tmp_path, count=10, broken=True)
    out = tmp_path / "out"
    code = cli.main(argv(tmp_path, "--batch-size", "4", "--ray", cluster))
    err = capsys.readouterr().err
    assert code == 1, err  # some inputs failed, the rest completed
    records = manifest(out)
    assert Counter(r["input"] for r in records) == Counter({r["input"]: 1 for r in records})  # one line each
    assert Counter(r["status"] for r in records) == {"done": 10, "failed": 2}
    assert {r["input"] for r in records if r["status"] == "failed"} == {"notes.png", "truncated.png"}
    assert all(r["process"] == 0 and r["steps"] == 8 for r in records if r["status"] == "done")
    assert len(list(out.rglob("img*.png"))) == 10 and partial_files(out) == []
    assert not (out / CHECKPOINTS).exists()
    assert "2 Ray workers" in err and "failed: truncated.png" in err


@pytest.mark.heavy  # a whole Ray fleet: `make test-all`; the schedule's recovery is tested without Ray below
def test_a_killed_worker_s_batch_is_finished_by_another_from_its_checkpoint(cluster, tmp_path):
    make_inputs(tmp_path, count=4)  # one batch: one worker busy, one free
    out = tmp_path / "out"
    codes = []
    command = argv(tmp_path, "--batch-size", "4", "--ray", cluster, steps=40)
    driver = threading.Thread(target=lambda: codes.append(cli.main(command)))
    driver.start()
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.isdigit() for p in (out / CHECKPOINTS).glob("*/*")):
        time.sleep(0.02)  # until the batch has a finished checkpoint (orbax writes STEP.orbax-checkpoint-tmp-N,
        # then renames it to STEP)
    assert any(p.name.isdigit() for p in (out / CHECKPOINTS).glob("*/*")), "no checkpoint within 120 s"
    import ray

    busy = [info for info in ray.get([w.info.remote() for w in workers_of(os.getpid())]) if info["batch"]]
    assert len(busy) == 1, busy
    os.kill(busy[0]["pid"], signal.SIGKILL)
    driver.join(timeout=180)
    assert codes == [0]
    records = manifest(out)
    assert Counter(r["input"] for r in records if r["status"] == "done") == {f"img{i:02d}.png": 1 for i in range(4)}
    resumed = {r["resumed_from"] for r in records}
    assert len(resumed) == 1 and 4 <= resumed.pop() < 40  # continued from a checkpoint, not from step 0
    assert len(list(out.glob("img*.png"))) == 4 and partial_files(out) == []
    assert not (out / CHECKPOINTS).exists()


@pytest.mark.heavy
def test_a_killed_driver_s_rerun_does_not_redo_finished_images(cluster, tmp_path):
    make_inputs(tmp_path, count=8)
    out = tmp_path / "out"
    command = argv(tmp_path, "--batch-size", "2", "--ray", cluster)
    driver = subprocess.Popen([sys.executable, "-m", "stylejax", *command], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and driver.poll() is None:
        if (out / "manifest.jsonl").exists() and '"done"' in (out / "manifest.jsonl").read_text():
            break
        time.sleep(0.05)
    driver.kill()
    driver.communicate(timeout=30)
    while workers_of(driver.pid) and time.time() < deadline:
        time.sleep(0.2)  # Ray ends a dead driver's workers
    finished = {p: p.stat().st_mtime_ns for p in out.rglob("img*.png")}
    assert 0 < len(finished) < 8
    assert cli.main(command) == 0
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime  # not redone
    records = manifest(out)
    assert len(list(out.rglob("img*.png"))) == 8 and partial_files(out) == []
    assert {r["status"] for r in records} <= {"done", "skipped-existing"}
    assert set(Counter(r["input"] for r in records).values()) == {1}  # one outcome per input



@pytest.mark.parametrize("case", ["unreachable", "malformed", "no-ray", "with-distributed"])
def test_bad_ray_input_is_one_line_and_exit_2_with_nothing_written(tmp_path, capsys, monkeypatch, case):
    import ray

    make_inputs(tmp_path, count=1)
    out = tmp_path / "out"
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh driver, whatever ran before
    address = {"unreachable": f"127.0.0.1:{free_port()}", "malformed": "localhost"}.get(case, "auto")
    extra = ["--distributed"] if case == "with-distributed" else []
    if case == "no-ray":
        monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    code = cli.main(argv(tmp_path, "--ray", address, *extra))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("stylejax: error: "), err
    assert {"unreachable": "no Ray cluster answers", "malformed": "HOST:PORT", "no-ray": "stylejax[ray]",
            "with-distributed": "give one"}[case] in err[0]
    assert not out.exists()


class _FakeRay:
    """Just enough of ray for `fleet_workers.schedule_batches`: a call's outcome is decided when it is made."""

    class exceptions:  # noqa: N801 (ray's names)
        RayActorError = type("RayActorError", (Exception,), {})  # as ActorUnavailableError: restarting
        ActorDiedError = type("ActorDiedError", (RayActorError,), {})

    @staticmethod
    def wait(refs, num_returns, timeout=None):
        return refs[:1], refs[1:]  # the oldest call returns first

    @staticmethod
    def get(ref):
        if isinstance(ref.outcome, Exception):
            raise ref.outcome
        return ref.outcome


def _ref(outcome):
    return type("Ref", (), {"outcome": outcome})()


class _FakeWorker:
    """A worker whose batches named by `dies` kill it; after each death it answers `restarting` pings with
    "unavailable" (Ray restarting it), and a batch sent meanwhile would fail at once."""

    def __init__(self, dies, restarting: int = 0):
        self.dies, self.restarting, self.ran, self.unavailable = dies, restarting, [], 0
        self.run = self  # worker.run.remote(shape, items)
        self.info = type("Info", (), {"remote": self._ping})()

    def remote(self, shape, items):
        if self.unavailable:  # a call to an actor Ray is restarting fails at once
            return _ref(_FakeRay.exceptions.RayActorError("unavailable"))
        self.ran.append(items[0].name)
        if self.dies(items[0].name):
            self.unavailable = self.restarting
            return _ref(_FakeRay.exceptions.RayActorError("killed"))
        return _ref(([{"input": item.name, "status": "done"} for item in items], None))

    def _ping(self):
        if self.unavailable:
            self.unavailable -= 1
            return _ref(_FakeRay.exceptions.RayActorError("unavailable"))
        return _ref({"pid": 1})


def _schedule(workers, names):
    batches = [fleet_workers.FleetBatch((32, 40), [inputs.Item(Path(name), name)]) for name in names]
    outcomes = Counter()
    fleet_workers.schedule_batches(_FakeRay, workers, batches,
                    lambda batch, records: outcomes.update((r["input"], r["status"]) for r in records),
                    log=lambda line: None)
    return outcomes


def test_the_schedule_retries_a_dead_worker_s_batch_drops_a_hopeless_worker_and_gives_up_on_a_poison_batch():
    flaky, steady = _FakeWorker(dies=lambda name: True), _FakeWorker(dies=lambda name: name == "poison")
    outcomes = _schedule([flaky, steady], ["a", "b", "c", "poison", "d"])
    assert outcomes == {(name, "done"): 1 for name in "abcd"} | {("poison", "failed"): 1}
    assert 2 <= len(flaky.ran) <= fleet_workers.MAX_RESTARTS + 1  # back after each restart, gone after too many
    assert set(flaky.ran) <= set(steady.ran)  # what died on one worker was retried on the other
    assert flaky.ran.count("poison") + steady.ran.count("poison") == fleet_workers.MAX_ATTEMPTS
    hopeless = [_FakeWorker(dies=lambda name: True) for _ in range(2)]
    with pytest.raises(stylejax.StyleJaxError, match="every Ray worker died"):
        _schedule(hopeless, ["a", "b", "c", "d", "e", "f", "g", "h", "i"])
    # Each ran until it had died once more than Ray restarts it, then left the pool.
    assert [len(worker.ran) for worker in hopeless] == [fleet_workers.MAX_RESTARTS + 1] * 2


def test_a_worker_s_diverging_batch_fails_its_images_and_the_worker_goes_on(tmp_path, monkeypatch):
    make_inputs(tmp_path, count=2)
    diverging = [True]
    diverge_batches(monkeypatch, lambda h, w, done: diverging[0])
    config = StyleConfig(size=40, steps=2, optimizer="adam", chunk_steps=2)
    worker = fleet_workers.FleetWorker(StylizeWork([tmp_path / "style.png"], config, tmp_path / "out", 1))
    items = [inputs.Item(path, path.name) for path in sorted((tmp_path / "in").glob("*.png"))]
    records, error = worker.run(bucket_shape((40, 50), config.size), items)
    assert error is None  # not a usage error for the driver to stop the fleet with
    assert [(r["input"], r["status"]) for r in records] == [("img00.png", "failed"), ("img01.png", "failed")]
    assert all(r["error"].startswith("the loss diverged (not finite at step 0)") for r in records)
    assert list((tmp_path / "out" / CHECKPOINTS).iterdir()) == []  # its checkpoint folder is gone
    assert not list((tmp_path / "out").glob("img*"))

    diverging[0] = False
    records, error = worker.run(bucket_shape((40, 50), config.size), items)
    assert error is None and [r["status"] for r in records] == ["done", "done"]


def test_a_lone_worker_that_restarts_gets_its_batch_back_once_it_answers(monkeypatch):
    monkeypatch.setattr(fleet_workers, "PING_INTERVAL", 0.01)
    died = []
    lone = _FakeWorker(dies=lambda name: name == "b" and not died.append(name) and len(died) == 1, restarting=3)
    outcomes = _schedule([lone], ["a", "b", "c"])
    assert outcomes == {(name, "done"): 1 for name in "abc"}  # no attempt burned while it was restarting
    assert lone.ran == ["a", "b", "c", "b"]  # once back, it takes the batch that did not die on it first


class _FakeCluster:
    """`ray.cluster_resources()` and `ray.nodes()` of a cluster of GPU nodes."""

    def __init__(self, gpus_per_node: list[int]):
        self._nodes = [{"Alive": True, "Resources": {"GPU": g, "CPU": 8}} for g in gpus_per_node]

    def cluster_resources(self):
        return {"GPU": sum(n["Resources"]["GPU"] for n in self._nodes), "CPU": 8 * len(self._nodes)}

    def nodes(self):
        return self._nodes


@pytest.mark.parametrize("workers, count, gpus, fraction", [
    (None, 4, 1, None),  # one worker per GPU
    (1, 1, 2, None),  # at most one node's GPUs: Ray places an actor on one node
    (6, 6, 0.5, "0.450"),  # more workers than GPUs: halves, and JAX told to take its half only
])
def test_gpu_workers_ask_for_what_one_node_can_give(workers, count, gpus, fraction):
    got, options = fleet_workers.worker_options(_FakeCluster([2, 2]), workers)
    env = options["runtime_env"]["env_vars"]
    assert (got, options["num_gpus"]) == (count, gpus)
    assert env.get("XLA_PYTHON_CLIENT_MEM_FRACTION") == fraction
    assert env["STYLEJAX_WEIGHTS_DIR"]  # workers find the driver's weights, not their raylet's default


@pytest.mark.heavy  # a whole Ray fleet: `make test-all`; apply's job runs locally in tests/network/test_apply.py
def test_apply_on_the_fleet_does_each_input_once_and_fails_the_broken_alone(cluster, tmp_path, capsys):
    from style_networks import random_network

    from stylejax.network.model_dir import save_model

    make_inputs(tmp_path, count=6, broken=True)
    save_model(tmp_path / "model", random_network(8, 1, seed=1), {"styles": [{"name": "style.png"}]})
    out = tmp_path / "out"
    command = ["apply", str(tmp_path / "model"), str(tmp_path / "in"), "-o", str(out), "--size", "40",
               "--batch-size", "2", "--workers", "2", "--ray", cluster]
    assert cli.main(command) == 1
    records = manifest(out)
    assert Counter(r["status"] for r in records) == {"done": 6, "failed": 2}
    assert set(Counter(r["input"] for r in records).values()) == {1} and {r["process"] for r in records} == {0}
    assert all(images.load_image(out / f"img{i:02d}.png").shape[:2] == images.fit_size((40 + i % 3, 50), 40)
               for i in range(6))
    assert "Ray workers" in capsys.readouterr().err
    assert cli.main(command) == 1  # resumed: the done are skipped, the broken fail again
    assert len([r for r in manifest(out) if r["status"] == "done"]) == 6


@pytest.mark.heavy  # a whole Ray fleet: `make test-all`; transfer's job runs locally in tests/jobs/test_transfer_job.py
def test_transfer_on_the_fleet_does_each_input_once_and_fails_the_broken_alone(cluster, tmp_path, capsys):
    from tiny_decoders import decoder_folder

    make_inputs(tmp_path, count=6, broken=True)
    decoders = decoder_folder(tmp_path / "decoders", ("relu1_1", "relu2_1"))
    out = tmp_path / "out"
    command = ["transfer", str(tmp_path / "in"), "--style", str(tmp_path / "style.png"), "-o", str(out), "--size",
               "40", "--decoders", str(decoders), "--batch-size", "2", "--workers", "2", "--ray", cluster]
    assert cli.main(command) == 1
    records = manifest(out)
    assert Counter(r["status"] for r in records) == {"done": 6, "failed": 2}
    assert set(Counter(r["input"] for r in records).values()) == {1} and {r["process"] for r in records} == {0}
    assert all(images.load_image(out / f"img{i:02d}.png").shape[:2] == images.fit_size((40 + i % 3, 50), 40)
               for i in range(6))
    assert "Ray workers" in capsys.readouterr().err
    assert cli.main(command) == 1  # resumed: the done are skipped, the broken fail again
    assert len([r for r in manifest(out) if r["status"] == "done"]) == 6
