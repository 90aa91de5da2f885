"""Data-parallel meta-training over ``torch.distributed`` workers.

Every user is an independent task, so a meta-batch splits across processes without
changing what is computed. ``torchrun --nproc-per-node N -m metarec train ...`` starts N
workers. Each builds only its share of every meta-batch (see
:meth:`metarec.meta.batching.EpisodeSampler.epoch`) and computes its loss terms with the
whole meta-batch's normalisers. The summed gradient is then exactly the gradient of the
single-process loss, and every worker takes the same optimiser step. Parameters start
from rank 0's values and are compared against them again at the end.

A worker that raises exits, which closes its connections, so the others fail in their
next collective operation. A worker that hangs makes the others fail after the timeout
(``METAREC_DIST_TIMEOUT_S``, default 600 seconds). Either way they raise
:class:`WorkerError` instead of waiting for ever.
"""

from __future__ import annotations

import datetime
import importlib
import logging
import os

import torch
import torch.distributed as dist

logger = logging.getLogger("metarec")

TIMEOUT_ENV = "METAREC_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0


class WorkerError(RuntimeError):
    """A collective operation failed because another worker stopped, hung or diverged."""


class WorkerGroup:
    """This process's place among the workers of one meta-training run.

    The default, one worker of one, is the single-process run: every method then returns
    its input unchanged without any communication.

    Parameters
    ----------
    rank : int
        This worker's index, 0 to ``world_size - 1``. Rank 0 logs, reports progress
        and writes files.
    world_size : int
        Number of workers.
    """

    def __init__(self, rank=0, world_size=1):
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size) and world_size at least 1, "
                             f"got rank {rank} and world_size {world_size}")
        self.rank = rank
        self.world_size = world_size

    @property
    def is_main(self) -> bool:
        """True on rank 0, the worker that logs, reports and writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def __repr__(self):
        return f"WorkerGroup(rank={self.rank}, world_size={self.world_size})"

    def share(self, items):
        """Return this worker's share of a sequence: positions ``rank::world_size``."""
        return items[self.rank::self.world_size]

    def sum(self, tensor: torch.Tensor, what="values") -> torch.Tensor:
        """Sum ``tensor`` over the workers in place and return it."""
        if self.distributed:
            self._collective(dist.all_reduce, tensor, what=what)
        return tensor

    def sum_gradients(self, parameters, loss) -> float:
        """Sum each parameter's gradient and the weighted ``loss`` over the workers.

        Called after ``loss.backward()`` and before clipping and the optimiser step.
        Each worker's loss must already be weighted by its share of the meta-batch, so
        the sums are the single-process gradient and loss. Gradients, a flag per
        parameter and the loss travel as one flat tensor, in one collective operation.
        ``loss`` is None for a worker with an empty share, which contributes zeros. A
        parameter keeps ``grad=None`` only where no worker computed a gradient for it,
        as in a single process the optimiser would then skip it.

        Returns
        -------
        float
            The loss of the whole meta-batch.
        """
        parameters = list(parameters)
        if not self.distributed:
            return float("nan") if loss is None else loss.item()
        pieces = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                  for p in parameters]
        flags = [float(p.grad is not None) for p in parameters]
        value = 0.0 if loss is None else loss.item()
        flat = torch.cat([*pieces, torch.tensor([*flags, value], dtype=pieces[0].dtype,
                                                device=pieces[0].device)])
        self.sum(flat, what="meta-gradients")
        summed_flags = flat[-1 - len(parameters):-1]
        offset = 0
        for index, (p, piece) in enumerate(zip(parameters, pieces)):
            count = piece.numel()
            has_gradient = summed_flags[index] > 0
            p.grad = flat[offset:offset + count].view_as(p).clone() if has_gradient else None
            offset += count
        return flat[-1].item()

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers into ``module`` on every worker."""
        if not self.distributed:
            return
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                self._collective(dist.broadcast, tensor.data, src=0,
                                 what="the rank-0 parameters")

    def check_same(self, module: torch.nn.Module, name="model") -> None:
        """Raise :class:`WorkerError` unless every worker has rank 0's parameters.

        Workers apply the same summed gradients to the same starting point, so they stay
        equal. This checks that cheaply, with one sum of squares per worker.
        """
        if not self.distributed:
            return
        with torch.no_grad():
            total = sum(p.detach().double().square().sum() for p in module.parameters())
        values = torch.zeros(self.world_size, dtype=torch.float64)
        values[self.rank] = total
        self.sum(values, what="parameter checksums")
        if not torch.all(values == values[0]):
            raise WorkerError(
                f"{name}: workers have different parameters after meta-training (sums of "
                f"squares {values.tolist()}); the run is not data-parallel any more, so "
                f"its weights were not saved"
            )

    def _collective(self, operation, *args, what="values", **kwargs):
        try:
            operation(*args, **kwargs)
        except (RuntimeError, dist.DistError) as error:
            raise WorkerError(
                f"worker {self.rank} of {self.world_size}: exchanging {what} failed, so "
                f"another worker stopped or did not answer within the timeout "
                f"(${TIMEOUT_ENV}); see that worker's output for the first error. "
                f"Cause: {error}"
            ) from error


SINGLE_PROCESS = WorkerGroup()


def timeout_seconds() -> float:
    """Return the collective-operation timeout from ``METAREC_DIST_TIMEOUT_S``.

    Raises
    ------
    ValueError
        If the variable is set but is not a positive number of seconds.
    """
    value = os.environ.get(TIMEOUT_ENV)
    if value in (None, ""):
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {value!r}")
    return seconds


def default_backend() -> str:
    """Return gloo for CPU tensors, plus NCCL for CUDA tensors where CUDA is present."""
    # NOTE: only gloo has been run. The tests run on CPU-only torch builds, and train
    # builds its networks on the CPU, so no NCCL exchange happens there.
    if torch.cuda.is_available() and dist.is_nccl_available():
        return "cpu:gloo,cuda:nccl"
    return "gloo"


def init_workers(rank=None, world_size=None, init_method="env://", backend=None,
                 timeout_s=None) -> WorkerGroup:
    """Join the process group of a ``torchrun`` launch, or return the single process.

    Parameters
    ----------
    rank, world_size : int, optional
        Default to the ``RANK`` and ``WORLD_SIZE`` variables that ``torchrun`` sets. With
        neither set, or a world of one, no process group is created.
    init_method : str
        Rendezvous address; ``env://`` reads ``MASTER_ADDR`` and ``MASTER_PORT``.
    backend : str, optional
        Defaults to :func:`default_backend`.
    timeout_s : float, optional
        Seconds any collective operation, and the rendezvous, may wait for the other
        workers; defaults to :func:`timeout_seconds`.

    Returns
    -------
    WorkerGroup
    """
    rank = int(os.environ.get("RANK", 0)) if rank is None else int(rank)
    world_size = (int(os.environ.get("WORLD_SIZE", 1)) if world_size is None
                  else int(world_size))
    group = WorkerGroup(rank, world_size)
    if world_size == 1:
        return group
    if dist.is_initialized():
        if (dist.get_rank(), dist.get_world_size()) != (rank, world_size):
            raise ValueError(f"a process group with rank {dist.get_rank()} of "
                             f"{dist.get_world_size()} already exists; cannot join as "
                             f"rank {rank} of {world_size}")
        return group
    timeout = timeout_seconds() if timeout_s is None else float(timeout_s)
    backend = backend or default_backend()
    # One thread per worker: workers share the machine's cores, and torch's default of
    # one thread per core in every process oversubscribes them.
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))
    logger.debug("worker %d of %d joining %s with %s, timeout %.0f s", rank, world_size,
                 init_method, backend, timeout)
    # On import, torch.distributed.nn binds the current default group into default
    # arguments (the first optimiser imports it), so it must come first: a group bound
    # there outlives close_workers, and its threads can abort the process at exit.
    importlib.import_module("torch.distributed.nn")

    dist.init_process_group(backend, init_method=init_method, rank=rank,
                            world_size=world_size,
                            timeout=datetime.timedelta(seconds=timeout))
    return group


def current_group() -> WorkerGroup:
    """Return the joined process group as a :class:`WorkerGroup`, else the single process."""
    if dist.is_available() and dist.is_initialized():
        return WorkerGroup(dist.get_rank(), dist.get_world_size())
    return SINGLE_PROCESS


def close_workers() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
