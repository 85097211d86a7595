import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# No network in tests: the data sets' default hands and text fall back to the packaged fonts and
# Python's documentation (one warning each); the npm path is tested on a loopback registry
# (tests/test_npm_data.py), which sets this back for its own calls.
os.environ["MODEL_PACKAGE_NPM"] = "none"


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory) -> Path:
    """A data root shared by the session's tests (rendered sets are cached there once); autouse,
    so no test, run alone or not, reads or downloads into the repository's data/."""
    path = tmp_path_factory.mktemp("data")
    os.environ["MODEL_PACKAGE_DATA_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def run_experiment():
    """training/run_experiment.py as a module."""
    spec = importlib.util.spec_from_file_location("run_experiment", REPO / "training" / "run_experiment.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_experiment"] = module
    spec.loader.exec_module(module)
    return module


# Small, fast data: a few hundred lines render in a couple of seconds.
SMALL_LINES = dict(num_train=64, num_val=16, num_test=16, batch_size=8)


# Tests that took 2 s or more (call phase) in `pytest --durations=0` on a 2-core CPU with AVX2
# kernels (the slowest CPU kind the suite must suit; 2026-11-27, and those marked 2026-12-01).
# They get the `slow` marker, so `pytest -m "not slow"` is the quick part; re-measure and update
# this list when tests change.
MEASURED_SLOW = {
    "tests/test_ablations.py::test_every_variant_changes_only_its_setting",
    "tests/test_ablations.py::test_runs_have_equal_steps_not_the_quickstarts_time_budget",  # 2026-12-01
    "tests/test_ablations.py::test_sweep_runs_tests_records_and_resumes",
    "tests/test_batching.py::test_width_bucket_data_module_crops_training_batches_only",  # 8.5 s, renders the small lines, 2026-12-07
    "tests/test_bench.py::test_bench_decode_runs_and_both_methods_agree",
    "tests/test_bench.py::test_bench_emnist_lines_runs_and_outputs_match",
    "tests/test_bench.py::test_bench_page_runs_and_both_ways_read_the_same",  # 2026-12-01
    "tests/test_bench.py::test_bench_train_runs_every_configuration",
    "tests/test_cli.py::test_fast_dev_run_renders_only_the_batches_it_reads",
    "tests/test_cli.py::test_fast_dev_run_subprocess",
    "tests/test_cli.py::test_short_fit_saves_config_checkpoints_and_wandb_run",
    "tests/test_cli.py::test_unknown_key_fails_naming_it_subprocess",
    "tests/test_configs.py::test_offline_config_fast_dev_run",  # 2026-12-01
    "tests/test_distributed.py::test_a_process_killed_mid_save_leaves_a_whole_checkpoint",
    "tests/test_distributed.py::test_ckpt_path_last_resumes_the_newest_run",
    "tests/test_distributed.py::test_ddp_fit_through_the_cli_writes_one_checkpoint",
    "tests/test_distributed.py::test_ddp_memorises_one_batch_to_zero_cer",
    "tests/test_distributed.py::test_ddp_ranks_keep_one_learning_rate_on_a_time_budget",  # 2026-12-01
    "tests/test_distributed.py::test_ddp_test_scores_every_sample_exactly_once",
    "tests/test_distributed.py::test_ranks_see_disjoint_samples",
    "tests/test_distributed.py::test_run_killed_with_sigkill_resumes_to_the_expected_step",
    "tests/test_distributed.py::test_torch_compile_is_opt_in_and_changes_neither_loss_nor_checkpoint_names",
    "tests/test_emnist.py::test_emnist_lines_readme_command_runs",
    "tests/test_gradio.py::test_browser_upload_shows_the_text_and_flags_it",
    "tests/test_handwriting_fonts.py::test_characters_are_emnist_shaped_and_labelled",  # 2026-12-01
    "tests/test_handwriting_fonts.py::test_same_seed_same_data_other_seed_other_data",  # 2026-12-01
    "tests/test_iam.py::test_iam_paragraph_config_fits_through_the_cli",
    "tests/test_model_zoo.py::test_line_cnn_memorises_a_batch_with_ctc",
    "tests/test_model_zoo.py::test_line_cnn_simple_memorises_a_batch_with_ctc",
    "tests/test_model_zoo.py::test_line_cnn_transformer_memorises_a_batch",
    "tests/test_models.py::test_cached_decoding_gives_the_same_tokens_as_full_recomputation",
    "tests/test_models.py::test_split_columns_gives_the_memory_finer_steps_than_the_cnn_stride",  # 2026-12-01 late: 3.2 s natively
    "tests/test_notebooks.py::test_notebook_runs",
    "tests/test_npm_data.py::test_an_unreachable_registry_falls_back_naming_every_font",  # 2026-12-01
    "tests/test_npm_data.py::test_batches_packed_side_by_side_name_only_the_package_that_failed",  # 2026-12-01
    "tests/test_overfit.py::test_overfit_one_batch_reaches_zero_cer",
    "tests/test_pages.py::test_a_paragraph_model_is_staged_as_such_and_fed_whole_pages",  # 2026-12-01
    "tests/test_pages.py::test_evaluate_scores_each_held_out_hand_on_lines_and_pages",  # 2026-12-01
    "tests/test_pages.py::test_lines_joined_by_pen_strokes_are_still_found",  # 2026-11-28, ~2.6 s a hand
    "tests/test_precision.py::test_a_fused_optimizer_has_its_gradients_clipped",  # 2026-12-01, ~18 s each
    "tests/test_precision.py::test_a_fused_optimizer_is_clipped_on_unscaled_gradients_under_a_loss_scaler",  # 2026-12-01
    "tests/test_schedules.py::test_a_budget_for_all_of_fit_leaves_training_what_the_data_left",  # 2026-12-01
    "tests/test_schedules.py::test_a_resumed_run_with_more_steps_stretches_the_one_cycle",
    "tests/test_schedules.py::test_a_run_ends_validated_and_saved_at_max_steps_between_validations",  # 2026-12-01
    "tests/test_schedules.py::test_a_run_stopped_by_its_time_budget_resumes_without_one_to_max_steps",  # 2026-12-01
    "tests/test_schedules.py::test_a_time_budget_runs_the_one_cycle_to_its_end_before_the_time_is_up",  # 2026-12-01
    "tests/test_schedules.py::test_each_best_checkpoint_holds_the_weights_its_score_was_measured_on",
    "tests/test_schedules.py::test_one_cycle_takes_its_length_from_the_trainer",
    "tests/test_schedules.py::test_reduce_on_plateau_steps_once_per_validation_on_the_configured_metric",
    "tests/test_serving.py::test_predictor_cli_reads_an_http_url",
    "tests/test_serving.py::test_predictor_reads_a_rendered_line_with_the_default_model",  # 2026-12-01
    "tests/test_serving.py::test_stage_refuses_a_missing_checkpoint",
    "tests/test_serving.py::test_staged_artifact_predicts_what_the_checkpoint_does",
    "tests/test_serving.py::test_staging_writes_beside_the_run_unless_asked_to_replace_the_shipped_model",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("[")[0] in MEASURED_SLOW:
            item.add_marker(pytest.mark.slow)
