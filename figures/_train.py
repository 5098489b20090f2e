"""The preamble every trained figure shares: thread settings, device, determinism.

    import _train                       # before numpy/torch: BLAS threads set here
    device = _train.start(run)          # after run = setup(FIGURE)

On CPU one thread: these matrices are too small to gain from more, and a fixed count keeps
the sums (hence the numbers) the same on every machine. On CUDA deterministic kernels, TF32
matmuls allowed, bf16 autocast where a profile asks for it (`autocast`).
"""

import contextlib
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: BLAS threads only contend

import torch  # noqa: E402


def start(run):
    """The device of this run ("cuda" or "cpu"), prepared; torch re-seeded with the figure's
    seed (setup() seeded it already when torch was imported before it)."""
    device = run.device()
    if device == "cpu":
        torch.set_num_threads(1)
    else:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS determinism
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(run.seed)
    return device


def autocast(device, enabled=True):
    """bf16 autocast on CUDA only: CPU bf16 is slow and changes the numbers."""
    if device == "cuda" and enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def maybe_compile(model, device, enabled=True):
    """torch.compile on CUDA only; on a CPU the compile time exceeds these short runs."""
    return torch.compile(model) if device == "cuda" and enabled else model
