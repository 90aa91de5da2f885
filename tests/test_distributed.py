"""Data-parallel meta-training: 2 workers on 127.0.0.1 match one process, and fail fast.

The workers are separate processes started with the ``spawn`` method. They meet through
a TCP store on a free port of 127.0.0.1 and exchange tensors over gloo on the loopback
interface only.
"""

import json
import multiprocessing
import os
import socket
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from metarec.data.features import FeatureEncoder
from metarec.meta.batching import EpisodeSampler
from metarec.meta.distributed import SINGLE_PROCESS, WorkerGroup, init_workers
from metarec.meta.training import TrainConfig, meta_train
from metarec.models.baselines import UserBiasBaseline
from metarec.models.prior import ItemPrior
from metarec.models.variants import VariantSpec, build_learner
from metarec.tasks import group_ratings, split_users

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"

# 2 x 32 + 1 training users and meta-batches of 32: the last meta-batch has one task, so
# worker 1's share of it is empty, which the gradient sum must handle.
TRAIN_USERS = 65
META_BATCH = 32

# Largest absolute difference allowed between a parameter trained by 2 workers and by one
# process. The two runs compute the same sums in float32, but in a different order: each
# worker sums its half of the meta-batch and gloo adds the halves. Rounding then differs
# by about 1e-7 relative per step. Adam divides each gradient by its running RMS, which
# can magnify that for a gradient near 0, and a step moves a weight by at most about
# meta_lr (3e-3). 1e-4 is far below one step, so a wrong weighting, a missing share or a
# different task draw (each at least a step's worth of change) cannot pass.
SAME_PARAMETERS = 1e-4
# The histories are means of the same per-step losses and validation errors.
SAME_LOSS = 1e-5

CASES = {
    # Second-order MAML: the meta-gradient runs through torch.func's vmap over tasks.
    "maml": dict(learner={"adapt": "personal+decision", "algorithm": "maml",
                          "inner_steps": 2, "inner_lr": 0.1}),
    # Meta-SGD student distilled from a teacher at rating and catalogue level, with the
    # listwise term: covers the catalogue items drawn for the whole meta-batch.
    "distilled": dict(learner={"adapt": "personal+decision", "algorithm": "metasgd",
                               "inner_steps": 2, "inner_lr": 0.1},
                      train={"distill_weight": 0.5, "distill_catalogue_weight": 0.5,
                             "distill_ranking_weight": 0.5, "distill_items": 8}),
    # No inner loop: the support ratings are training targets, weighted by support size.
    "pretrain": dict(learner={"adapt": "personal+decision", "algorithm": "maml",
                              "inner_steps": 0, "serve_steps": 2, "inner_lr": 0.1}),
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load_parts():
    """Sample data cut down to 65 meta-train and 20 validation users."""
    from metarec.data import load_movielens_100k

    dataset = load_movielens_100k(SAMPLE_DIR)
    split = split_users(dataset.users["user_id"], seed=0)
    train_users = np.sort(split.train)[:TRAIN_USERS]
    validation_users = np.sort(split.validation)[:20]
    ratings = dataset.ratings
    train = ratings[ratings["user_id"].isin(train_users)]
    encoder = FeatureEncoder.from_dataset(dataset)
    return {
        "train": train,
        "validation": ratings[ratings["user_id"].isin(validation_users)],
        "encoder": encoder,
        "users": encoder.encode_users(dataset.users),
        "items": encoder.item_feature_table(dataset.items),
        "prior": ItemPrior.from_baseline(UserBiasBaseline().fit(train), encoder),
    }


def build(parts, learner_args, seed):
    torch.manual_seed(seed)
    spec = VariantSpec(network={"dim": 4, "hidden": (8,)}, learner=dict(learner_args))
    return build_learner(spec, parts["encoder"], parts["items"], parts["prior"])


def train_cases(parts, workers):
    """Train every case for 2 epochs; return ``{case: (state_dict, history dict)}``."""
    teacher = build(parts, CASES["maml"]["learner"], seed=5)
    generator = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for parameter in teacher.net.decision.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
    teacher.requires_grad_(False)

    results = {}
    for name, case in CASES.items():
        learner = build(parts, case["learner"], seed=1)
        config = replace(TrainConfig(epochs=2, meta_batch=META_BATCH, patience=10,
                                     serve_step_candidates=(1, 2), seed=3),
                         **case.get("train", {}))
        history = meta_train(learner, parts["train"], parts["validation"],
                             parts["encoder"], parts["users"], parts["prior"], config,
                             teacher=teacher if "train" in case else None, name=name,
                             workers=workers)
        results[name] = ({k: v.clone() for k, v in learner.state_dict().items()},
                         {"train_loss": history.train_loss,
                          "validation_mae": history.validation_mae,
                          "best_epoch": history.best_epoch,
                          "serve_steps": learner.serve_steps})
    return results


def run_worker(rank, world_size, port, out_dir, mode, timeout_s):
    """Body of one spawned worker; rank 0 writes what happened to ``out_dir``."""
    torch.set_num_threads(1)
    report = Path(out_dir) / f"rank-{rank}.json"
    started = time.perf_counter()
    try:
        workers = init_workers(rank, world_size, f"tcp://127.0.0.1:{port}",
                               backend="gloo", timeout_s=timeout_s)
        parts = load_parts()
        if mode == "equivalence":
            results = train_cases(parts, workers)
            if workers.is_main:
                torch.save({name: state for name, (state, _) in results.items()},
                           Path(out_dir) / "states.pt")
                report.write_text(json.dumps(
                    {"histories": {name: h for name, (_, h) in results.items()}}))
            return
        if mode in ("raise", "hang") and rank == 1:
            if mode == "hang":
                time.sleep(120)
            # Fails in collate, after the first exchange (the rank-0 broadcast), so
            # rank 0 is left waiting in a later one.
            parts["users"] = None
        train_cases(parts, workers)
        report.write_text(json.dumps({"error": None}))
    except Exception as error:  # noqa: BLE001 - the parent process inspects it
        report.write_text(json.dumps({
            "error": type(error).__name__, "message": str(error),
            "seconds": time.perf_counter() - started,
            "traceback": traceback.format_exc()}))
        raise SystemExit(1)
    finally:
        from metarec.meta.distributed import close_workers

        close_workers()
        # Threads left running here outlive the interpreter, and gloo's can then abort
        # the process at exit after it has done its work.
        tasks = Path("/proc/self/task")
        if tasks.is_dir():
            names = [(task / "comm").read_text().strip() for task in tasks.iterdir()]
            (Path(out_dir) / f"threads-{rank}.json").write_text(json.dumps(names))


def spawn_workers(out_dir, mode, timeout_s=60.0, world_size=2, wait_s=240.0):
    """Start the workers, wait up to ``wait_s`` for rank 0, then stop any still running."""
    context = multiprocessing.get_context("spawn")
    port = free_port()
    environment = {"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    try:
        processes = [context.Process(target=run_worker,
                                     args=(rank, world_size, port, str(out_dir), mode,
                                           timeout_s))
                     for rank in range(world_size)]
        for process in processes:
            process.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    processes[0].join(wait_s)
    rank_zero_finished = not processes[0].is_alive()
    # The other workers finish the same steps a moment later. Give them time to exit on
    # their own, because stopping them at once makes a slow machine read as a failure.
    for process in processes[1:]:
        process.join(60 if rank_zero_finished else 0)
    for process in processes:
        if process.is_alive():
            process.terminate()
        process.join(10)
    return rank_zero_finished, [process.exitcode for process in processes]


@pytest.fixture(scope="module")
def parts():
    return load_parts()


@pytest.fixture(scope="module")
def single_process(parts):
    torch.set_num_threads(1)
    return train_cases(parts, SINGLE_PROCESS)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    out = tmp_path_factory.mktemp("two-workers")
    finished, exit_codes = spawn_workers(out, "equivalence")
    report = out / "rank-0.json"
    assert finished and exit_codes == [0, 0], (
        f"workers exited with {exit_codes}: "
        f"{report.read_text() if report.exists() else 'no report'}")
    states = torch.load(out / "states.pt", weights_only=True)
    histories = json.loads(report.read_text())["histories"]
    return states, histories, out


def test_sampler_shares_match_one_process(parts):
    grouped = group_ratings(parts["train"])
    whole = EpisodeSampler(grouped, query_size=10, max_support=20, seed=4)
    halves = [EpisodeSampler(grouped, query_size=10, max_support=20, seed=4)
              for _ in range(2)]
    for _ in range(2):
        batches = list(whole.epoch(META_BATCH))
        shares = [list(sampler.epoch(META_BATCH, rank, 2))
                  for rank, sampler in enumerate(halves)]
        for batch, first, second in zip(batches, *shares):
            assert [t.user_id for t in first] == [t.user_id for t in batch[0::2]]
            assert [t.user_id for t in second] == [t.user_id for t in batch[1::2]]
            for task, shared in zip(batch[1::2], second):
                assert np.array_equal(task.support_items, shared.support_items)
                assert np.array_equal(task.query_items, shared.query_items)
        assert shares[1][-1] == []


def test_sampler_rejects_rank_outside_world(parts):
    sampler = EpisodeSampler(group_ratings(parts["train"]))
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\), got 2"):
        next(sampler.epoch(8, rank=2, world_size=2))


def test_worker_group_rejects_bad_rank():
    with pytest.raises(ValueError, match="got rank 3 and world_size 2"):
        WorkerGroup(3, 2)


def test_timeout_variable_rejects_non_number(monkeypatch):
    from metarec.meta.distributed import timeout_seconds

    monkeypatch.setenv("METAREC_DIST_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="positive number of seconds, got 'soon'"):
        timeout_seconds()


@pytest.mark.parametrize("case", list(CASES))
def test_two_workers_match_one_process(case, single_process, two_workers):
    states, histories, _ = two_workers
    expected_state, expected_history = single_process[case]
    for name, value in expected_state.items():
        difference = (states[case][name] - value).abs().max().item()
        assert difference <= SAME_PARAMETERS, f"{case}: {name} differs by {difference:.2e}"
    history = histories[case]
    assert history["best_epoch"] == expected_history["best_epoch"]
    assert history["serve_steps"] == expected_history["serve_steps"]
    assert np.allclose(history["train_loss"], expected_history["train_loss"],
                       rtol=0, atol=SAME_LOSS)
    assert np.allclose(history["validation_mae"], expected_history["validation_mae"],
                       rtol=0, atol=SAME_LOSS)


def test_workers_stop_gloo_threads_when_closed(two_workers):
    _, _, out = two_workers
    reports = sorted(out.glob("threads-*.json"))
    if not reports:
        pytest.skip("thread names are read from /proc/self/task, which this system lacks")
    assert len(reports) == 2
    for report in reports:
        left = [name for name in json.loads(report.read_text()) if "gloo" in name]
        assert not left, f"{report.stem}: {left} still running after close_workers"


def test_training_moves_parameters(parts, single_process):
    # Guards the equivalence test against comparing two runs that both did nothing.
    untrained = build(parts, CASES["maml"]["learner"], seed=1).state_dict()
    trained, _ = single_process["maml"]
    moved = max((trained[k] - v).abs().max().item() for k, v in untrained.items())
    assert moved > 100 * SAME_PARAMETERS


@pytest.mark.parametrize("mode, timeout_s", [("raise", 60.0), ("hang", 5.0)])
def test_failed_worker_stops_the_other(tmp_path, mode, timeout_s):
    started = time.perf_counter()
    finished, exit_codes = spawn_workers(tmp_path, mode, timeout_s=timeout_s,
                                         wait_s=timeout_s + 60)
    assert finished, f"rank 0 still running {time.perf_counter() - started:.0f} s later"
    report = json.loads((tmp_path / "rank-0.json").read_text())
    assert report["error"] == "WorkerError", report.get("traceback")
    assert "another worker stopped or did not answer" in report["message"]
    # Rank 0 stops within the timeout plus the time it takes to start and load data.
    assert report["seconds"] < timeout_s + 30
    assert exit_codes[0] == 1


def test_train_rejects_zero_workers(capsys):
    from metarec.cli import main

    assert main(["train", "--workers", "0", "--quiet"]) == 2
    assert "--workers must be at least 1, got 0" in capsys.readouterr().err
