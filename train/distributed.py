"""Training and evaluation on torch.distributed: processes started by `torchrun`, joined in one process group.

`spikeport train` (every model family), `spikeport evaluate` (isam-mtl's leave-one-subject-out folds) and
`spikeport validate` (Lava's samples) run under `torchrun --nproc_per_node N [--nnodes ... --rdzv-endpoint ...]`;
docs/scaling.md has the commands. Without torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
with WORLD_SIZE > 1) nothing here starts a process group and everything runs in one process, as before.

Data parallel training (`data_parallel`, used by `spikeport.train.loop.train_loop`): every rank draws the same
seeded batch order, takes its contiguous shard of each batch (`shard`), back-propagates its shard's mean loss
weighted by its share of the batch, and the gradients are summed over ranks with one `all_reduce` of a flat buffer
(`all_reduce_gradients`) before every rank takes the same Adam step. The sum of the weighted shard gradients is
the gradient of the whole batch's mean loss, also for an uneven last batch (DistributedDataParallel averages the
ranks' gradients equally, which is that only when the shards are equal). The parameters are broadcast from rank 0
first, as DDP does. We reduce the gradients ourselves rather than wrapping the model in DDP because `train_loop`
receives parameters and a step function, not a module: DDP needs the forward pass to go through its wrapper,
which would mean changing every family's trainer, and its bucketed overlap buys nothing on these small models.
Every rank ends with the same weights (the reduced buffer is the same bits on every rank); the result is
deterministic for a given number of processes, and differs from one process only by floating-point summation
order (and, for a family that draws noise per batch, by which noise each sample gets).

Backend: gloo for CPU tensors; where CUDA is present, "cpu:gloo,cuda:nccl", so CUDA tensors go over NCCL and
object collectives (`gather_to_main`) stay on the CPU.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from spikeport.errors import SpikeportError

if TYPE_CHECKING:
    import torch

__all__ = [
    "COMMANDS",
    "FAMILY_STEPS",
    "active",
    "all_reduce_gradients",
    "broadcast_parameters",
    "check_family_step",
    "data_parallel",
    "data_parallel_active",
    "gather_to_main",
    "is_main",
    "launched",
    "my_items",
    "process_group",
    "rank",
    "run_command",
    "shard",
    "sum_over_ranks",
    "world_size",
]

LAUNCH_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
"""The variables torchrun sets for every process it starts (torch's env:// initialisation reads them)."""
TIMEOUT = timedelta(minutes=30)  # a rank waits this long for the others at a collective before failing

COMMANDS = ("train", "validate", "evaluate")
"""The `spikeport` commands that run under torchrun, one process per rank; the others refuse to."""
FAMILY_STEPS = frozenset({("evaluate", "isam-mtl")})
"""(family step, family) pairs that share their work across the ranks (isam-mtl's leave-one-subject-out folds)."""

_data_parallel = False


def launched() -> bool:
    """Whether this process was started by torchrun (or a launcher setting the same variables) with > 1 process."""
    if not all(name in os.environ for name in LAUNCH_ENV):
        return False
    try:
        return int(os.environ["WORLD_SIZE"]) > 1
    except ValueError:
        raise SpikeportError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number; launch with torchrun") from None


@contextlib.contextmanager
def process_group() -> Iterator[None]:
    """Join the process group torchrun describes for the block (nothing when not `launched`), then leave it."""
    import torch
    import torch.distributed as dist

    if not launched() or dist.is_initialized():
        yield
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = "cpu:gloo,cuda:nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend, timeout=TIMEOUT)
    try:
        yield
    finally:
        dist.destroy_process_group()


def run_command(command: str, call: Callable[[], int]) -> int:
    """Run `spikeport COMMAND` (`call`): as it is without torchrun; under torchrun inside the process group, or
    refused (`SpikeportError`) for a command that does not share its work (every rank would do all of it)."""
    if not launched():
        return call()
    if command not in COMMANDS:
        raise SpikeportError(
            f"spikeport {command} does not run under torchrun; torchrun runs {', '.join(COMMANDS)} "
            "(docs/scaling.md); run it as one process (Lava on several cores: --workers N)"
        )
    with process_group():
        return call()


def check_family_step(step: str, family: str) -> None:
    """Under torchrun, refuse a model family's `adapt`/`evaluate` step that does not share its work."""
    if launched() and (step, family) not in FAMILY_STEPS:
        raise SpikeportError(
            f"spikeport {step} of a {family} run does not run under torchrun (of the family steps, only "
            "isam-mtl's evaluate shares its folds across ranks); run it as one process"
        )


def active() -> bool:
    """Whether a process group of more than one process is joined."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    import torch.distributed as dist

    return dist.get_rank() if active() else 0


def world_size() -> int:
    """The number of processes in the group (1 without one)."""
    import torch.distributed as dist

    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes files and prints: rank 0, or the only process."""
    return rank() == 0


@contextlib.contextmanager
def data_parallel() -> Iterator[bool]:
    """Within the block, `train_loop` trains data parallel over the group (if one is joined); yields whether."""
    global _data_parallel
    previous, _data_parallel = _data_parallel, active()
    try:
        yield _data_parallel
    finally:
        _data_parallel = previous


def data_parallel_active() -> bool:
    """Whether `train_loop` should shard batches and reduce gradients now (inside `data_parallel`, in a group)."""
    return _data_parallel and active()


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous part of a batch of indices (parts differ in size by at most one; some may be empty)."""
    return batch.tensor_split(world_size())[rank()]


def _flat(parameters: Sequence[torch.Tensor], grads: bool) -> torch.Tensor:
    import torch

    parts = []
    for p in parameters:
        value = (p.grad if p.grad is not None else torch.zeros_like(p)) if grads else p.detach()
        parts.append(value.reshape(-1))
    return torch.cat(parts) if parts else torch.zeros(0)


def broadcast_parameters(parameters: Sequence[torch.Tensor]) -> None:
    """Give every rank rank 0's parameter values (one broadcast of a flat buffer)."""
    import torch
    import torch.distributed as dist

    flat = _flat(parameters, grads=False)
    dist.broadcast(flat, src=0)
    with torch.no_grad():
        offset = 0
        for p in parameters:
            p.copy_(flat[offset : offset + p.numel()].view_as(p))
            offset += p.numel()


def all_reduce_gradients(parameters: Sequence[torch.Tensor]) -> None:
    """Sum every parameter's gradient over the ranks (one all_reduce); a parameter no rank gave a gradient keeps
    none, so Adam skips it as it would in one process."""
    import torch
    import torch.distributed as dist

    if not parameters:
        return
    present = torch.tensor([p.grad is not None for p in parameters], dtype=torch.float32)
    flat = torch.cat([_flat(parameters, grads=True).float(), present.to(parameters[0].device)])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for k, p in enumerate(parameters):
        n = p.numel()
        if flat[-len(parameters) + k] > 0:
            p.grad = flat[offset : offset + n].view_as(p).to(p.dtype).clone()
        offset += n


def sum_over_ranks(loss: float, metric: float, extras: Mapping[str, float]) -> tuple[float, float, dict[str, float]]:
    """An epoch's loss, metric and extras summed over the ranks, in rank order (the same on every rank)."""
    import torch.distributed as dist

    gathered: list[Any] = [None] * world_size()
    dist.all_gather_object(gathered, (float(loss), float(metric), dict(extras)))
    total_loss, total_metric, total_extras = 0.0, 0.0, {}
    for part_loss, part_metric, part_extras in gathered:
        total_loss += part_loss
        total_metric += part_metric
        for key, value in part_extras.items():
            total_extras[key] = total_extras.get(key, 0.0) + value
    return total_loss, total_metric, total_extras


def my_items(count: int) -> list[int]:
    """The indices of `count` independent jobs this rank runs: every `world_size()`-th, from its rank."""
    return list(range(rank(), count, world_size()))


def gather_to_main(value: Any) -> list[Any] | None:
    """Every rank's `value`, in rank order, on rank 0 (`gather_object`); None on the other ranks. Without a group,
    `[value]`."""
    import torch.distributed as dist

    if not active():
        return [value]
    gathered: list[Any] | None = [None] * world_size() if is_main() else None
    dist.gather_object(value, gathered, dst=0)
    return gathered
