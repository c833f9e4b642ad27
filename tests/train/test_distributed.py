"""Training and evaluation on torch.distributed (`spikeport.train.distributed`, docs/scaling.md).

Fast: without torchrun's environment nothing starts a process group; commands that do not run under torchrun say
so; `train_loop` on two gloo ranks (spawned here) takes the steps one process takes on whole batches, including an
uneven last batch and a batch smaller than the group. Slow: the real `torchrun --nproc_per_node 2 -m spikeport`
for `train` (every model family: the single-process metric within `TOLERANCE`), `evaluate --protocol loso`
(isam-mtl's folds shared by the ranks: the same table as one process) and `validate` (Lava's samples shared by
the ranks, and by two Lava workers within each rank: the single-process result).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from spikeport.cli import main
from spikeport.train import distributed
from spikeport.train.loop import BatchResult, train_loop

TOLERANCE = 0.05
"""How far the torchrun-trained model's test metric (accuracy, or R²) may lie from the single-process one (the
bound docs/scaling.md states): the two differ only in floating-point summation order (and in isam-mtl, in which
noise sample each trial draws), so their weights agree to about 1e-6 and their predictions almost always."""

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
TINY = {
    "decoder": ["--subjects", "2", "--trials-per-class", "16", "--steps", "16", "--hidden", "8", "--epochs", "3"],
    "isam-mtl": ["--subjects", "2", "--trials-per-class", "8", "--steps", "16", "--epochs", "2"],
    "rat-snn": ["--trials-per-class", "8", "--steps", "5", "--epochs", "2"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_launcher_environment_means_one_process(monkeypatch):
    for name in distributed.LAUNCH_ENV:
        monkeypatch.delenv(name, raising=False)
    assert not distributed.launched() and not distributed.active()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    with distributed.process_group(), distributed.data_parallel() as parallel:
        assert not parallel and not distributed.data_parallel_active()
    assert distributed.gather_to_main("x") == ["x"] and distributed.my_items(3) == [0, 1, 2]
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert not distributed.launched()  # torchrun --nproc_per_node 1: one process, no group


def test_commands_that_do_not_share_work_refuse_to_run_under_torchrun(monkeypatch, tmp_path, capsys):
    for name, value in {"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(name, value)
    assert main(["simulate", str(tmp_path), "--backend", "lava", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "spikeport simulate does not run under torchrun; torchrun runs train, validate, evaluate" in err
    assert "--workers N" in err


def _regression(n: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return torch.randn(n, 5, generator=generator), torch.randn(n, 2, generator=generator)


def _fit(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.nn.Linear, tuple[float, ...]]:
    """A linear model trained by `train_loop` (batches 4, 4, 1: an uneven last batch, smaller than the group)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 2)
    unused = torch.nn.Parameter(torch.ones(3))  # no gradient anywhere: Adam must skip it on every rank

    def step(batch: torch.Tensor) -> BatchResult:
        per_sample = ((model(x[batch]) - y[batch]) ** 2).mean(dim=1)
        return BatchResult(loss=per_sample.mean(), loss_sum=per_sample.sum().detach(), extras={"n": len(batch)})

    history = train_loop([*model.parameters(), unused], step, len(y), epochs=3, batch_size=4, lr=0.05, seed=1,
                         progress=False)  # fmt: skip
    assert torch.equal(unused.detach(), torch.ones(3))
    assert [s["n"] for s in history.sums] == [len(y)] * 3  # every rank's extras summed
    return model, history.loss


def _rank_main(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        with distributed.data_parallel() as parallel:
            assert parallel
            model, loss = _fit(*_regression())
        torch.save({"state": model.state_dict(), "loss": loss}, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_ranks_take_the_steps_of_one_process_on_whole_batches(tmp_path):
    # forked: the ranks start with torch imported (spawned ones spent most of the test importing it again)
    torch.multiprocessing.start_processes(
        _rank_main, args=(_free_port(), str(tmp_path)), nprocs=2, join=True, start_method="fork"
    )
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    one, loss = _fit(*_regression())
    for name, value in one.state_dict().items():
        assert torch.equal(ranks[0]["state"][name], ranks[1]["state"][name])  # the same bits on every rank
        torch.testing.assert_close(ranks[0]["state"][name], value, rtol=0, atol=1e-6)
    assert ranks[0]["loss"] == ranks[1]["loss"]
    np.testing.assert_allclose(ranks[0]["loss"], loss, rtol=1e-6)


# -- the real launcher (slow) --------------------------------------------------------------------------------------


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in distributed.LAUNCH_ENV}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _metric(run: Path) -> float:
    facts = json.loads((run / "training.json").read_text())["float_test"]
    return facts["accuracy"] if "accuracy" in facts else facts["r2_mean"]


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(TINY))
def test_torchrun_trains_every_family_to_the_single_process_metric(tmp_path, family):
    options = ["train", "--model", family, *TINY[family], "--no-progress"]
    _run([sys.executable, "-m", "spikeport", *options, "--out", str(tmp_path / "one")], tmp_path)
    result = _run([*TORCHRUN, "-m", "spikeport", *options, "--out", str(tmp_path / "two")], tmp_path)
    assert result.stdout.count("trained ") == 1  # rank 0 prints, rank 1 does not
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    one, two = _metric(tmp_path / "one"), _metric(tmp_path / "two")
    assert one is not None and abs(two - one) <= TOLERANCE, (one, two)


@pytest.mark.slow
def test_torchrun_shares_loso_folds_and_gives_the_single_process_table(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--model", "isam-mtl", *TINY["isam-mtl"], "--no-progress"]) == 0
    assert main(["export", str(run)]) == 0 and main(["quantize", str(run), "--no-progress"]) == 0
    evaluate = ["evaluate", str(run), "--protocol", "loso", "--shots", "2", "--backends", "float", "reference"]
    _run([sys.executable, "-m", "spikeport", *evaluate, "--no-progress"], tmp_path)
    one = json.loads((run / "evaluation.json").read_text())
    (run / "evaluation.json").unlink()
    result = _run([*TORCHRUN, "-m", "spikeport", *evaluate, "--no-progress"], tmp_path)
    two = json.loads((run / "evaluation.json").read_text())
    assert len({r["subject"] for r in one["subjects"]}) == 2  # two folds: one per rank
    assert two["subjects"] == one["subjects"] and two["mean_over_subjects"] == one["mean_over_subjects"]
    assert result.stdout.count("loso evaluation on") == 1


@pytest.mark.slow
@pytest.mark.lava
def test_torchrun_shares_lava_validation_and_prints_the_single_process_result(tmp_path):
    from helpers.graphs import two_layer
    from spikeport.ir import save_deploy_graph

    graph = save_deploy_graph(two_layer(), tmp_path / "g.deploy.npz")
    validate = ["validate", str(graph), "--samples", "5", "--steps", "12", "--no-progress"]
    one = _run([sys.executable, "-m", "spikeport", *validate], tmp_path)
    two = _run([*TORCHRUN, "-m", "spikeport", *validate, "--workers", "2"], tmp_path)  # 2 ranks x 2 Lava workers
    assert "bit-exact" in one.stdout.lower() and two.stdout == one.stdout
