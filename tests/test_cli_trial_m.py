"""The command line: scenario hints, saved evaluation settings, -v timings and checks."""

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from metarec.cli import _counts_text, build_parser, main
from metarec.data import DATA_DIR_ENV, load_dataset
from page_helpers import flat


def write_manifest(folder, scenario="new-user", cut_year=None):
    """Write the manifest of user models trained on the sample for ``scenario``."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = load_dataset(None)
    dataset = {"name": sample.name, "ratings": sample.n_ratings, "source": sample.source,
               "fingerprint": sample.fingerprint()}
    split = {"scenario": scenario, "users": {"seed": 0}, "new_items": [],
             "cut_year": cut_year}
    (folder / "manifest.json").write_text(json.dumps(
        {"versions": {"metarec": "0"}, "dataset": dataset, "scenario": split}))
    return (folder / "manifest.json").read_text()


def stop_training(monkeypatch):
    def stop(*args, **kwargs):
        raise ValueError("stopped before training")

    monkeypatch.setattr("metarec.pipeline.train_models", stop)


def fail_on_loading(monkeypatch):
    def load(*args, **kwargs):
        raise AssertionError("models were loaded")

    monkeypatch.setattr("metarec.serving.recommender.Recommender.load", load)


# Scenario of the models already in a folder ------------------------------------------

def test_evaluate_hint_keeps_scenario(workdir, capsys):
    for seed in (0, 1):
        write_manifest(workdir / "both" / f"seed-{seed}", "new-user-new-item")
    assert main(["evaluate", "--models", "both", "--seeds", "0", "1", "2"]) == 2
    error = capsys.readouterr().err
    assert "no trained models in 'both/seed-2'" in error
    # Only the missing seed is trained, so the other seeds' models stay as they are.
    assert ("run: python -m metarec train --scenario new-user-new-item --seeds 2 "
            "--out both") in error


def test_evaluate_hint_keeps_cut_year(workdir, capsys):
    write_manifest(workdir / "both" / "seed-0", "new-user-new-item", cut_year=1990.0)
    assert main(["evaluate", "--models", "both", "--seeds", "0", "1"]) == 2
    assert ("train --scenario new-user-new-item --cut-year 1990 --seeds 1 --out both"
            in capsys.readouterr().err)


def test_train_keeps_other_scenario_models(workdir, monkeypatch, capsys):
    stop_training(monkeypatch)
    before = write_manifest(workdir / "both" / "seed-0", "new-user-new-item")
    assert main(["train", "--seeds", "0", "--epochs", "1", "--out", "both"]) == 2
    error = flat(capsys.readouterr().err)
    assert ("--out 'both' contains models trained for scenario 'new-user-new-item' in "
            "'both/seed-0', and training for 'new-user' would replace them") in error
    assert ("pass --scenario new-user-new-item to retrain them, another --out, or add "
            "--replace to replace them") in error
    assert "stopped before training" not in error
    assert (workdir / "both" / "seed-0" / "manifest.json").read_text() == before


def test_train_other_scenario_with_replace(workdir, monkeypatch, capsys):
    stop_training(monkeypatch)
    write_manifest(workdir / "both", "new-user-new-item")
    assert main(["train", "--epochs", "1", "--out", "both", "--replace"]) == 2
    error = capsys.readouterr().err
    assert ("note: replacing the models for scenario 'new-user-new-item' in 'both' "
            "(--replace)") in error
    assert "stopped before training" in error


def test_train_same_scenario_retrains(workdir, monkeypatch, capsys):
    stop_training(monkeypatch)
    write_manifest(workdir / "both", "new-user-new-item")
    assert main(["train", "--scenario", "new-user-new-item", "--epochs", "1",
                 "--out", "both"]) == 2
    error = capsys.readouterr().err
    assert "trained for scenario" not in error
    assert "stopped before training" in error


def test_replace_help_names_scenarios():
    help_text = flat(build_parser().commands["train"].format_help())
    assert "replace models of other data or of another scenario" in help_text


def test_evaluate_names_seeds_of_each_scenario(workdir, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    for seed in (0, 1):
        write_manifest(workdir / "mixed" / f"seed-{seed}", "new-user-new-item")
    write_manifest(workdir / "mixed" / "seed-2", "new-user")
    assert main(["evaluate", "--models", "mixed", "--seeds", "0", "1", "2"]) == 2
    error = flat(capsys.readouterr().err)
    assert ("the seed folders of 'mixed' contain models of different scenarios: seeds 0 1 "
            "new-user-new-item, seed 2 new-user") in error
    assert ("pass --seeds 0 1 to evaluate new-user-new-item, or retrain seed 2 with: "
            "python -m metarec train") in error
    assert "--scenario new-user-new-item --seeds 2 --out mixed --replace" in error
    assert "pass --scenario new-user or" not in error
    assert "models were loaded" not in error


def test_evaluate_mixed_seeds_with_scenario_flag(workdir, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    write_manifest(workdir / "mixed" / "seed-0", "new-user-new-item")
    write_manifest(workdir / "mixed" / "seed-1", "new-user")
    assert main(["evaluate", "--models", "mixed", "--seeds", "0", "1", "--scenario",
                 "new-user"]) == 2
    error = flat(capsys.readouterr().err)
    assert "seed 0 new-user-new-item, seed 1 new-user" in error
    assert "pass --seeds 1 to evaluate new-user, or retrain seed 0 with:" in error
    assert "--scenario new-user --seeds 0 --out mixed --replace" in error


# Saved results ------------------------------------------------------------------------

def test_results_record_evaluation_settings(tiny_models, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "0", "2", "all",
                 "--variants", "user-bias", "--query-seed", "7", "--query-size", "5",
                 "--min-ratings", "8", "--max-ratings", "0", "--users", "validation",
                 "--out", str(out)]) == 0
    saved = json.loads(out.with_suffix(".json").read_text())
    for key in ("dataset", "fingerprint", "scenario", "users", "models", "splits",
                "summary", "results"):
        assert key in saved
    settings = saved["settings"]
    assert settings["users"] == "validation"
    assert settings["shots"] == [0, 2, "all"]
    assert settings["query_seed"] == 7
    assert settings["query_seeds"] == [7]
    assert settings["query_size"] == 5
    assert settings["min_ratings"] == 8
    assert settings["max_ratings"] == 0
    assert settings["catalogue"] is False
    assert settings["variants"] == ["user-bias"]
    assert settings["seeds"] is None


def test_results_record_split_query_seed(tiny_models, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "5", "--variants",
                 "user-bias", "--out", str(out)]) == 0
    settings = json.loads(out.with_suffix(".json").read_text())["settings"]
    assert settings["query_seed"] is None
    assert settings["query_seeds"] == [0]
    assert settings["max_ratings"] == 100


# -v ------------------------------------------------------------------------------------

def test_verbose_evaluate_logs_timings(tiny_models, caplog, capsys):
    caplog.set_level(logging.DEBUG, logger="metarec")
    assert main(["-v", "evaluate", "--models", str(tiny_models), "--shots", "1", "5",
                 "--variants", "user-bias"]) == 0
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("loaded sample_data (") and m.endswith(" s") for m in messages)
    assert any(m.startswith(f"loaded the models in {tiny_models} in ") for m in messages)
    assert any(m.startswith("scored 1 variant(s) at K=1, 5 in ") for m in messages)


def test_evaluate_verbose_help_matches_logs():
    help_text = flat(build_parser().commands["evaluate"].format_help())
    assert ("log how CSV data was read (rows kept, rating scale) and timings of loading "
            "the data, loading each models folder and scoring it") in help_text


# A data folder passed as --models -----------------------------------------------------

def test_data_folder_as_models(workdir, capsys):
    data = workdir / "ml-100k"
    data.mkdir()
    (data / "u.data").write_text("")
    assert main(["evaluate", "--models", str(data)]) == 2
    error = flat(capsys.readouterr().err)
    assert (f"--models '{data}' is a data folder (it contains u.data), not a models "
            f"folder") in error
    assert (f"python -m metarec evaluate --data {data} --models models/ml-100k"
            in error)
    assert f"python -m metarec train --data {data} --out models/ml-100k" in error
    assert f"--out {data}" not in error


def test_data_folder_as_models_with_seeds(workdir, capsys):
    data = workdir / "ratings"
    data.mkdir()
    (data / "ratings.csv").write_text("user_id,item_id,rating\n")
    assert main(["evaluate", "--models", "ratings", "--seeds", "0"]) == 2
    error = flat(capsys.readouterr().err)
    assert "--models 'ratings' is a data folder (it contains ratings.csv)" in error
    assert "evaluate --data ratings --seeds 0 --models models/ratings" in error


# A bad METAREC_DATA_DIR -----------------------------------------------------------------

def test_bad_data_dir_variable_named(workdir, monkeypatch, capsys):
    (workdir / "empty").mkdir()
    monkeypatch.setenv(DATA_DIR_ENV, str(workdir / "empty"))
    assert main(["evaluate", "--models", "models"]) == 2
    error = flat(capsys.readouterr().err)
    assert (f"{DATA_DIR_ENV} is set to '{workdir / 'empty'}', which contains no ratings "
            f"file that metarec reads") in error
    assert (f"set {DATA_DIR_ENV} to a dataset folder or file, unset it to use the bundled "
            f"sample, or pass --data") in error
    assert "or set METAREC_DATA_DIR" not in error


def test_missing_data_dir_variable_named(workdir, monkeypatch, capsys):
    monkeypatch.setenv(DATA_DIR_ENV, str(workdir / "nowhere"))
    assert main(["train", "--epochs", "1", "--out", "models"]) == 2
    error = flat(capsys.readouterr().err)
    assert f"{DATA_DIR_ENV} is set to '{workdir / 'nowhere'}', which does not exist" in error
    assert "unset it to use the bundled sample, or pass --data" in error


def test_data_flag_error_keeps_its_advice(workdir, monkeypatch, capsys):
    (workdir / "empty").mkdir()
    monkeypatch.setenv(DATA_DIR_ENV, str(workdir / "nowhere"))
    assert main(["evaluate", "--data", "empty", "--models", "models"]) == 2
    error = capsys.readouterr().err
    assert "'empty' contains no ratings file" in error
    assert "is set to" not in error


# An unwritable --out ----------------------------------------------------------------------

@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_unwritable_out_rejected_before_scoring(tiny_models, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    assert main(["evaluate", "--models", str(tiny_models), "--out", "/proc/ev"]) == 2
    captured = capsys.readouterr()
    error = flat(captured.err)
    assert "--out '/proc/ev' cannot be written: creating a file in '/proc' failed" in error
    assert "pass a path in a folder that you can write to" in error
    assert "models were loaded" not in error
    assert captured.out == ""


def test_out_folder_rejected_early(tiny_models, tmp_path, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    (tmp_path / "ev.json").mkdir()
    assert main(["evaluate", "--models", str(tiny_models), "--out",
                 str(tmp_path / "ev")]) == 2
    error = flat(capsys.readouterr().err)
    assert (f"--out '{tmp_path / 'ev'}' would write '{tmp_path / 'ev.json'}', which is a "
            "folder; pass another name") in error


def test_read_only_out_rejected_early(tiny_models, tmp_path, monkeypatch, capsys):
    # Root may write any file, so the refusal of a read-only file is simulated.
    fail_on_loading(monkeypatch)
    existing = tmp_path / "ev.csv"
    existing.write_text("kept\n")

    def reject_write(path, mode="r", *args, **kwargs):
        if Path(path) == existing and mode != "r":
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr("metarec.cli.open", reject_write, raising=False)
    assert main(["evaluate", "--models", str(tiny_models), "--out",
                 str(tmp_path / "ev")]) == 2
    error = flat(capsys.readouterr().err)
    assert (f"--out '{tmp_path / 'ev'}' would replace '{existing}', which cannot be "
            "written (Permission denied); make it writable or pass another name") in error
    assert existing.read_text() == "kept\n"


def test_out_in_new_folder_still_written(tiny_models, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "ev"
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "5", "--variants",
                 "user-bias", "--out", str(out)]) == 0
    assert out.with_suffix(".json").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["ev.csv", "ev.json"]


# Counts in table titles -----------------------------------------------------------------

def test_counts_text_singular_and_plural():
    single = pd.DataFrame({"variant": ["a"], "shots": ["5"], "users": [1]})
    assert _counts_text(single, "users") == "1 user"
    two = pd.DataFrame({"variant": ["a"], "shots": ["5"], "users": [2]})
    assert _counts_text(two, "users") == "2 users"
    items = pd.DataFrame({"variant": ["a"], "shots": ["5"], "items": [1]})
    assert _counts_text(items, "items") == "1 item"
