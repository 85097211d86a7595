"""``precision: auto``: the fastest safe training precision for the hardware the run lands on.

bf16 autocast is only fast where the hardware computes in bf16. On a CPU that means AVX512-BF16
or AMX: without them oneDNN emulates bf16 (AVX512 without BF16) or PyTorch falls back to
reference kernels (AVX2 only), and bf16-mixed runs up to ~12x SLOWER than fp32 (measured with
``python -m model_package.bench train``). So a config asks for ``auto`` and gets:

- CUDA with bf16 in hardware (Ampere and newer): ``bf16-mixed``;
- CUDA with tensor cores but no bf16 (Volta, Turing): ``16-mixed`` (loss scaling guards fp16's range);
- a CPU whose oneDNN has a bf16 path AND that has AVX512-BF16 or AMX: ``bf16-mixed``;
- anything else (AVX2-only and AVX512-without-BF16 CPUs, older GPUs, Apple MPS): ``32-true``.

An explicit precision (``--trainer.precision=32-true``) always wins.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from lightning.pytorch.accelerators import Accelerator, CPUAccelerator, CUDAAccelerator, MPSAccelerator

AUTO = "auto"


@dataclass(frozen=True)
class PrecisionChoice:
    """What ``auto`` (or an explicit value) resolved to, and why; saved in ``environment.json``."""

    requested: str
    precision: str
    device: str  # "cpu", "cuda" or "mps"
    reason: str
    cpu_capability: str  # torch.backends.cpu.get_cpu_capability(): DEFAULT, AVX2, AVX512, ...
    cpu_bf16_native: bool

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        how = "chosen for this hardware" if self.requested == AUTO else "set explicitly"
        return f"precision {self.precision} ({how}: {self.reason}; CPU capability {self.cpu_capability})"


def cpu_capability() -> str:
    """The vector instruction set PyTorch's CPU kernels run with here (honours ATEN_CPU_CAPABILITY)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


def cpu_bf16_native() -> bool:
    """True where bf16 matmuls and convolutions run in hardware on this CPU.

    Both must hold: oneDNN has a bf16 path for the instruction set it is allowed to use (so a cap
    such as ``ONEDNN_MAX_CPU_ISA=AVX2`` counts), and the CPU has AVX512-BF16 or AMX tiles (oneDNN
    also reports bf16 "supported" on plain AVX512, where it is emulated and slow). The probes are
    private PyTorch functions: if one is missing, the answer is False (fp32 is always safe).
    """
    try:
        onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        hardware = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):
        return False
    return onednn and hardware


def inductor_cpu_isa() -> str:
    """The vector ISA torch.compile's CPU kernels would use here ("avx512 ...", "avx2", "" for none)."""
    try:
        from torch._inductor import cpu_vec_isa

        return str(cpu_vec_isa.pick_vec_isa())
    except Exception:  # noqa: BLE001 - a probe: anything that fails means "unknown"
        return ""


def _device(accelerator: str | Accelerator | None) -> str:
    if isinstance(accelerator, Accelerator):
        if isinstance(accelerator, CUDAAccelerator):
            return "cuda"
        if isinstance(accelerator, MPSAccelerator):
            return "mps"
        return "cpu" if isinstance(accelerator, CPUAccelerator) else type(accelerator).__name__
    name = (accelerator or "auto").lower()
    if name == "auto":  # Lightning's own order: CUDA, then MPS, then CPU
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if MPSAccelerator.is_available() else "cpu"
    return {"gpu": "cuda"}.get(name, name)


def resolve_precision(requested: str | int | None, accelerator: str | Accelerator | None = "auto") -> PrecisionChoice:
    """Resolve ``requested`` (``"auto"``, None for Lightning's default, or any Lightning precision)."""
    capability, native = cpu_capability(), cpu_bf16_native()
    device = _device(accelerator)

    def choice(precision: str, reason: str) -> PrecisionChoice:
        return PrecisionChoice(str(requested), precision, device, reason, capability, native)

    if requested is None:
        return choice("32-true", "Lightning's default")
    if str(requested) != AUTO:
        return choice(str(requested), "as asked")
    if device == "cpu":
        if native:
            return choice("bf16-mixed", "this CPU computes bf16 in hardware (AVX512-BF16/AMX)")
        return choice("32-true", "this CPU has no bf16 hardware (no AVX512-BF16/AMX, or oneDNN capped below it): bf16 would be emulated, ~10x slower")
    if device == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return choice("bf16-mixed", "this GPU computes bf16 in hardware")
        if torch.cuda.get_device_capability()[0] >= 7:
            return choice("16-mixed", "this GPU has fp16 tensor cores but no bf16")
        return choice("32-true", "this GPU has neither bf16 nor fp16 tensor cores")
    return choice("32-true", f"mixed precision not measured on {device}")
