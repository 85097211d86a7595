"""``precision: auto`` picks bf16-mixed only where the hardware computes bf16, and says so.

The hardware probes are replaced by fakes in each direction, so these tests decide the same on
an AVX2-only CPU, an AVX512-BF16 one and a GPU machine.
"""

import json

import pytest
import torch

from model_package.lit_models import Trainer
from model_package.lit_models import precision as precision_module
from model_package.lit_models.precision import resolve_precision
from tests.conftest import SMALL_LINES


@pytest.fixture
def bf16_cpu(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_bf16_native", lambda: True)


@pytest.fixture
def avx2_cpu(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_bf16_native", lambda: False)


def test_auto_on_a_cpu_with_bf16_hardware_is_bf16_mixed(bf16_cpu):
    choice = resolve_precision("auto", "cpu")
    assert (choice.precision, choice.device, choice.cpu_bf16_native) == ("bf16-mixed", "cpu", True)
    assert "hardware" in choice.reason


def test_auto_on_a_cpu_without_bf16_hardware_is_fp32(avx2_cpu):
    choice = resolve_precision("auto", "cpu")
    assert (choice.precision, choice.cpu_bf16_native) == ("32-true", False)
    assert "emulated" in choice.reason


@pytest.mark.parametrize("explicit", ["32-true", "bf16-mixed", "16-mixed"])
@pytest.mark.parametrize("native", [True, False])
def test_an_explicit_precision_always_wins(monkeypatch, explicit, native):
    monkeypatch.setattr(precision_module, "cpu_bf16_native", lambda: native)
    choice = resolve_precision(explicit, "cpu")
    assert choice.precision == explicit and choice.reason == "as asked"


@pytest.mark.parametrize(
    ("bf16", "capability", "expected"), [(True, (8, 0), "bf16-mixed"), (False, (7, 5), "16-mixed"), (False, (6, 1), "32-true")]
)
def test_auto_on_cuda_follows_the_gpu(monkeypatch, avx2_cpu, bf16, capability, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    for accelerator in ("gpu", "cuda", "auto"):
        choice = resolve_precision("auto", accelerator)
        assert (choice.device, choice.precision) == ("cuda", expected)


def test_auto_without_a_gpu_resolves_on_the_cpu(monkeypatch, bf16_cpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_precision("auto", "auto").device == "cpu"


def test_the_probe_answers_false_when_torch_lacks_it(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert precision_module.cpu_bf16_native() is False


def test_the_trainer_resolves_auto_and_prints_why(avx2_cpu, caplog):
    with caplog.at_level("INFO"):
        trainer = Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert trainer.precision_choice.precision == "32-true"
    assert trainer.precision_choice.requested == "auto"
    assert "precision 32-true (chosen for this hardware" in caplog.text


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16-mixed"), (False, "32-true")])
def test_the_cli_resolves_auto_and_records_it(tmp_path, monkeypatch, data_dir, run_experiment, native, expected):
    """``fit --config quickstart`` asks for auto; the run's environment.json says what it got and why."""
    monkeypatch.setattr(precision_module, "cpu_bf16_native", lambda: native)
    monkeypatch.chdir(tmp_path)
    args = ["fit", "--config", "quickstart", *[f"--data.{k}={v}" for k, v in SMALL_LINES.items()],
            "--trainer.max_steps=1", "--trainer.limit_val_batches=0", "--trainer.logger=false"]
    cli = run_experiment.main(args)
    assert cli.trainer.precision_choice.precision == expected
    assert cli.trainer.precision == expected  # what Lightning really runs with
    recorded = json.loads((tmp_path / "environment.json").read_text())["precision"]
    assert recorded["requested"] == "auto" and recorded["precision"] == expected
    assert recorded["cpu_capability"] == precision_module.cpu_capability() and recorded["cpu_bf16_native"] is native


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_a_fused_optimizer_has_its_gradients_clipped(tmp_path, monkeypatch, data_dir, run_experiment, precision):
    """AdamW with ``fused: true`` (one kernel a step) and gradient clipping: Lightning's bf16-mixed
    plugin refused to clip for it (a RuntimeError about unscaling, which only fp16's loss scaler
    needs). Both precisions now train, and the last step's gradients are clipped to the norm asked."""
    monkeypatch.chdir(tmp_path)
    args = ["fit", "--config", "quickstart", *[f"--data.{k}={v}" for k, v in SMALL_LINES.items()],
            "--trainer.max_steps=2", "--trainer.limit_val_batches=0", "--trainer.logger=false",
            f"--trainer.precision={precision}", "--trainer.gradient_clip_val=0.001",
            "--model.optimizer.init_args.fused=true"]  # fmt: skip
    cli = run_experiment.main(args)
    optimizer = cli.trainer.optimizers[0]
    assert optimizer.defaults["fused"] is True and cli.trainer.global_step == 2
    grads = [p.grad for p in cli.model.parameters() if p.grad is not None]  # the last step's, clipped in place
    assert grads and torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])) <= 0.001 * 1.01


def test_a_fused_optimizer_is_clipped_on_unscaled_gradients_under_a_loss_scaler():
    """fp16-mixed (a GPU without bf16) scales the loss by 2**16; clipping must see the gradients
    unscaled, and the fused step must not unscale them a second time. Here on the CPU, with
    Lightning's fp16 plugin and a GradScaler made by hand (Lightning turns 16-mixed into bf16 on
    a CPU): two steps move the weights as far as the same two steps in fp32 (clipped scaled
    gradients would be 2**16 too small and barely move them), and the last step's gradients are
    clipped to the norm asked."""
    import lightning as L
    from lightning.pytorch.plugins.precision import MixedPrecision
    from torch.utils.data import DataLoader, TensorDataset

    from model_package.lit_models import LitTransformer
    from model_package.metadata.vocabulary import LINE_VOCABULARY

    torch.manual_seed(0)
    images, labels = torch.rand(16, 1, 32, 64), torch.randint(4, len(LINE_VOCABULARY), (16, 8))

    def moved(**precision) -> tuple[float, float]:
        """(how far two clipped fused steps move the weights, the last gradients' norm)"""
        torch.manual_seed(0)
        model = LitTransformer(LINE_VOCABULARY, (1, 32, 64), 8, tf_dim=32, tf_fc_dim=64, tf_nhead=2, tf_num_layers=1,
                               optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3, fused=True))  # fmt: skip
        start = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        trainer = L.Trainer(accelerator="cpu", max_steps=2, gradient_clip_val=0.001, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, **precision)  # fmt: skip
        trainer.fit(model, DataLoader(TensorDataset(images, labels), batch_size=8))
        assert trainer.global_step == 2
        end = torch.cat([p.detach().flatten() for p in model.parameters()])
        grads = torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters() if p.grad is not None])
        return float(torch.linalg.vector_norm(end - start)), float(torch.linalg.vector_norm(grads))

    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    fp16_moved, fp16_grad_norm = moved(plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)])
    fp32_moved, _ = moved(precision="32-true")
    assert scaler.get_scale() == 2.0**16  # no step skipped for an overflow
    assert 0.5 < fp16_moved / fp32_moved < 2, (fp16_moved, fp32_moved)
    assert 0.001 * 0.99 <= fp16_grad_norm <= 0.001 * 1.01
