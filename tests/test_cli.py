"""The command-line interface, run as a person would run it."""

import subprocess
import sys

import pytest

from metarec.cli import main

REPO_ROOT_ARGS = {"capture_output": True, "text": True, "timeout": 600}


def test_generate_sample_writes_loadable_data(tmp_path, capsys):
    from metarec.data import load_movielens_100k

    assert main(["generate-sample", "--out", str(tmp_path), "--users", "40",
                 "--items", "60"]) == 0
    assert "wrote a synthetic catalogue" in capsys.readouterr().out
    dataset = load_movielens_100k(tmp_path)
    assert len(dataset.users) == 40
    assert len(dataset.items) == 60


def test_missing_data_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "does not exist" in error
    assert "METAREC_DATA_DIR" in error


def test_evaluate_without_models_names_the_fix(tmp_path, capsys):
    assert main(["evaluate", "--models", str(tmp_path)]) == 2
    assert "python -m metarec train" in capsys.readouterr().err


def test_evaluate_prints_and_writes_a_table(tiny_models, tmp_path):
    out = tmp_path / "results"
    completed = subprocess.run(
        [sys.executable, "-m", "metarec", "evaluate", "--models", str(tiny_models),
         "--shots", "5", "all", "--out", str(out)], **REPO_ROOT_ARGS)
    assert completed.returncode == 0, completed.stderr
    for variant in ("teacher", "student", "ensemble", "user-bias"):
        assert variant in completed.stdout
    assert "MAE K=5" in completed.stdout
    assert out.with_suffix(".csv").is_file()
    assert out.with_suffix(".json").is_file()


def test_bad_shots_value_is_rejected(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "zero"]) == 2
    assert "--shots zero is not a support size; pass whole numbers of 0 or more, or 'all'" \
        in capsys.readouterr().err


def test_evaluate_seeds_on_single_models(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--seeds", "0"]) == 2
    assert "leave out --seeds to evaluate it" in capsys.readouterr().err


def test_evaluate_rejects_a_scenario_mismatch(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--scenario",
                 "new-user-new-item"]) == 2
    assert "were trained for scenario 'new-user'" in capsys.readouterr().err


def test_scenario_mismatch_names_the_items_folder(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--scenario", "new-item"]) == 2
    error = capsys.readouterr().err
    assert "were trained for scenario 'new-user', not 'new-item'" in error
    assert (f"train item models with 'train --scenario new-item --out "
            f"{tiny_models / 'items'}' and pass that folder to --models") in error


def test_evaluate_over_seed_folders(tiny_models, tmp_path, capsys):
    root = tmp_path / "runs"
    root.mkdir()
    (root / "seed-0").symlink_to(tiny_models, target_is_directory=True)
    (root / "seed-1").symlink_to(tiny_models, target_is_directory=True)
    assert main(["evaluate", "--models", str(root), "--seeds", "0", "1", "--shots", "5",
                 "--variants", "student", "user-bias"]) == 0
    output = capsys.readouterr().out
    # Two copies of one model give a zero-width interval.
    assert "± 0.0000" in output


def test_item_models_train_and_evaluate_from_the_cli(tmp_path, capsys):
    models = tmp_path / "items"
    assert main(["train", "--scenario", "new-item", "--epochs", "1", "--quiet",
                 "--out", str(models)]) == 0
    output = capsys.readouterr().out
    assert "validation items" in output
    assert "released in" in output
    assert "or later (--cut-year); their ratings never reached training" in output
    assert main(["evaluate", "--scenario", "new-item", "--models", str(models),
                 "--shots", "0", "5", "--variants", "teacher", "genre-mean"]) == 0
    printed = capsys.readouterr().out
    assert "MAE K=0" in printed
    assert "genre-mean" in printed
    assert " items)" in printed


def test_train_rejects_file_as_out(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    assert main(["train", "--out", str(target), "--epochs", "1"]) == 2
    assert f"--out '{target}' is a file" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_train_rejects_dataset_folder_as_out(tmp_path, capsys):
    (tmp_path / "ratings.csv").write_text("user_id,item_id,rating\n")
    assert main(["train", "--out", str(tmp_path), "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert "contains a dataset (ratings.csv)" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ratings.csv"]


def test_bad_cli_values_name_the_flag(tmp_path, capsys):
    cases = [
        (["evaluate", "--rating-scale", "5", "1"], "--rating-scale needs a finite LOW below"),
        (["evaluate", "--max-rejected", "2"], "--max-rejected must be at least 0"),
        (["evaluate", "--threads", "0"], "--threads must be at least 1, got 0"),
        (["evaluate", "--out", str(tmp_path)], "is a folder, but evaluate writes OUT.csv"),
        (["generate-sample", "--users", "0", "--out", str(tmp_path / "s")],
         "--users must be from 10 to 10,000, got 0"),
    ]
    for argv, expected in cases:
        assert main(argv) == 2, argv
        assert expected in capsys.readouterr().err


def test_missing_models_message_repeats_data_flag(tmp_path, capsys):
    assert main(["evaluate", "--data", "sample", "--models", str(tmp_path / "m")]) == 2
    error = capsys.readouterr().err
    assert f"no trained models in '{tmp_path / 'm'}'" in error
    assert f"run: python -m metarec train --data sample --out {tmp_path / 'm'}" in error


def test_evaluate_new_users_at_zero_shots(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "0", "1",
                 "--variants", "student", "user-bias"]) == 0
    output = capsys.readouterr().out
    assert "MAE K=0" in output
    assert "MAE K=1" in output


def test_catalogue_metrics_are_printed(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "5", "--catalogue",
                 "--variants", "student"]) == 0
    output = capsys.readouterr().out
    assert "catalogue nDCG@10 by support size K" in output
    assert "recall@10 K=5" in output


def test_models_env_folder_checked_by_name(tmp_path, monkeypatch, capsys):
    (tmp_path / "u.data").write_text("")
    monkeypatch.setenv("METAREC_MODELS_DIR", str(tmp_path))
    assert main(["train", "--epochs", "1"]) == 2
    assert f"METAREC_MODELS_DIR '{tmp_path}' contains a dataset (u.data)" in \
        capsys.readouterr().err


def test_out_below_file_rejected_early(tmp_path, capsys):
    blocker = tmp_path / "run.log"
    blocker.write_text("keep me")
    for command in (["train", "--epochs", "1"], ["evaluate"]):
        assert main([*command, "--out", str(blocker / "sub")]) == 2, command
        error = capsys.readouterr().err
        assert f"because '{blocker}' is a file" in error
    assert blocker.read_text() == "keep me"


def test_train_rejects_zero_epochs(capsys):
    assert main(["train", "--epochs", "0"]) == 2
    assert "--epochs must be at least 1, got 0" in capsys.readouterr().err


def test_workers_check_data_before_starting(tmp_path, capsys):
    # A bad folder must stop the command here: it would otherwise start torchrun.
    assert main(["train", "--workers", "2", "--data", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "models")]) == 2
    error = capsys.readouterr().err
    assert error.count("does not exist") == 1
    assert not (tmp_path / "models").exists()


def test_ranking_only_variants_explained(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "5",
                 "--variants", "student", "student-like", "random"]) == 0
    output = capsys.readouterr().out
    assert "- : student-like, random predict no ratings" in output
    # K=5 needs 10 query + 5 support ratings, so users with 13 or 14 cannot be scored.
    assert "users with 15 to 100 ratings (K=5 needs 10 query + 5 support ratings" in output


def test_evaluate_scores_a_repeated_shot_once(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "1", "1",
                 "--variants", "student"]) == 0
    captured = capsys.readouterr()
    assert "--shots 1 given more than once" in captured.err
    # One score per K and models folder, so no interval over a repeated one.
    assert "±" not in captured.out


def test_evaluate_says_why_a_shot_has_no_users(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "1", "500",
                 "--variants", "student"]) == 0
    captured = capsys.readouterr()
    assert "note: K=500 is left out: it needs users with 510 ratings" in captured.err
    assert "--max-ratings 100" in captured.err
    assert "MAE K=1" in captured.out

    assert main(["evaluate", "--models", str(tiny_models), "--shots", "500"]) == 2
    error = capsys.readouterr().err
    assert "could be scored at K=500" in error
    assert "a larger --max-ratings (0 for no limit)" in error


def test_verbose_train_adds_epoch_lines(tmp_path):
    command = [sys.executable, "-m", "metarec", "train", "--out", str(tmp_path / "models"),
               "--epochs", "1"]
    plain = subprocess.run(command, **REPO_ROOT_ARGS)
    verbose = subprocess.run([*command[:3], "-v", *command[3:]], **REPO_ROOT_ARGS)
    assert plain.returncode == 0, plain.stderr
    assert verbose.returncode == 0, verbose.stderr
    assert "student serving steps by support size" in plain.stderr
    assert "student epoch 1/1: train loss" not in plain.stderr
    assert "student epoch 1/1: train loss" in verbose.stderr
    # student-like classifies likes, so its validation error is a log loss.
    assert "student-like epoch 1/1: train loss" in verbose.stderr
    assert "validation log loss" in verbose.stderr


def test_evaluate_reads_scenario_from_models(tiny_item_models, capsys):
    assert main(["evaluate", "--models", str(tiny_item_models), "--shots", "0",
                 "--variants", "genre-mean"]) == 0
    output = capsys.readouterr().out
    assert "scenario new-item" in output
    assert "MAE K=0" in output


def test_like_variant_prints_auc(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "5",
                 "--variants", "student-like", "random"]) == 0
    output = capsys.readouterr().out
    # Neither variant predicts ratings, so an all-dash MAE table is left out.
    assert "MAE K=5" not in output
    assert "AUC K=5" in output


def test_metrics_flag_picks_tables(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "5",
                 "--variants", "student", "--metrics", "rmse", "ndcg@3"]) == 0
    captured = capsys.readouterr()
    assert "RMSE K=5" in captured.out
    assert "nDCG@3 K=5" in captured.out
    assert "MAE K=5" not in captured.out


def test_metrics_flag_rejects_unknown(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--metrics", "ndcg"]) == 2
    assert "--metrics 'ndcg' is not a metric; choose from mae rmse" in \
        capsys.readouterr().err


def write_manifest(folder, source, fingerprint="0" * 64):
    """Write the manifest of models trained on other MovieLens-sized data into ``folder``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"versions": {"metarec": "0"},
                "dataset": {"name": "ml-100k", "ratings": 100000, "source": source,
                            "fingerprint": fingerprint}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return (folder / "manifest.json").read_text()


def stop_training(monkeypatch):
    def stop(*args, **kwargs):
        raise ValueError("stopped before training")

    monkeypatch.setattr("metarec.pipeline.train_models", stop)


def test_train_keeps_other_data_models(tmp_path, monkeypatch, capsys):
    stop_training(monkeypatch)
    before = write_manifest(tmp_path / "models", "/data/ml-100k")
    assert main(["train", "--out", str(tmp_path / "models"), "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert ("contains models trained on 'ml-100k' (100,000 ratings, from /data/ml-100k)"
            in error)
    assert "add --replace to replace them" in error
    assert "stopped before training" not in error
    assert (tmp_path / "models" / "manifest.json").read_text() == before


def test_train_checks_each_seed_folder(tmp_path, monkeypatch, capsys):
    stop_training(monkeypatch)
    write_manifest(tmp_path / "models" / "seed-1", "/data/ml-100k")
    assert main(["train", "--out", str(tmp_path / "models"), "--seeds", "0", "1",
                 "--epochs", "1"]) == 2
    assert "contains models trained on 'ml-100k'" in capsys.readouterr().err


def test_train_replace_flag_overrides(tmp_path, monkeypatch, capsys):
    stop_training(monkeypatch)
    write_manifest(tmp_path / "models", "/data/ml-100k")
    assert main(["train", "--out", str(tmp_path / "models"), "--epochs", "1",
                 "--replace"]) == 2
    error = capsys.readouterr().err
    assert "note: replacing the models of 'ml-100k'" in error
    assert "stopped before training" in error


def test_train_retrains_edited_data(tmp_path, monkeypatch, capsys):
    from metarec.data import load_dataset

    stop_training(monkeypatch)
    write_manifest(tmp_path / "models", load_dataset(None).source)
    assert main(["train", "--out", str(tmp_path / "models"), "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert "contains models trained" not in error
    assert "stopped before training" in error


def test_abbreviated_flag_is_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--epoch", "1"])
    error = capsys.readouterr().err
    assert "unrecognized arguments: --epoch 1; did you mean --epochs?" in error


def test_generate_sample_replaces_a_sample(tmp_path, capsys):
    import shutil

    from metarec.data import SAMPLE_DIR

    copy = tmp_path / "sample_data"
    shutil.copytree(SAMPLE_DIR, copy)
    assert main(["generate-sample", "--out", str(copy), "--seed", "0"]) == 0
    assert "wrote a synthetic catalogue" in capsys.readouterr().out
    for name in ("u.data", "u.item", "u.user", "README.md"):
        assert (copy / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name


def test_generate_sample_keeps_other_data(tmp_path, capsys):
    (tmp_path / "u.data").write_text("1\t1\t5\t0\n")
    assert main(["generate-sample", "--out", str(tmp_path)]) == 2
    assert "so it may be real data" in capsys.readouterr().err
    assert (tmp_path / "u.data").read_text() == "1\t1\t5\t0\n"


def write_item_manifest(folder):
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "item_manifest.json").write_text(json.dumps({"versions": {"metarec": "0"}}))


def test_train_keeps_user_and_item_models_apart(tmp_path, monkeypatch, capsys):
    stop_training(monkeypatch)
    write_manifest(tmp_path / "users", "/data/ml-100k")
    assert main(["train", "--scenario", "new-item", "--out", str(tmp_path / "users"),
                 "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert "contains user models (manifest.json), and item models beside them" in error
    assert f"pass --out '{tmp_path / 'users' / 'items'}'" in error

    write_item_manifest(tmp_path / "items")
    assert main(["train", "--out", str(tmp_path / "items"), "--epochs", "1"]) == 2
    assert "contains item models (item_manifest.json)" in capsys.readouterr().err


def test_evaluate_mixed_folder_needs_scenario(tiny_models, tiny_item_models, tmp_path,
                                             capsys):
    import shutil

    mixed = tmp_path / "mixed"
    shutil.copytree(tiny_models, mixed)
    shutil.copytree(tiny_item_models, mixed, dirs_exist_ok=True)
    assert main(["evaluate", "--models", str(mixed), "--shots", "1"]) == 2
    assert "contains both user models (manifest.json) and item models" in \
        capsys.readouterr().err

    assert main(["evaluate", "--models", str(mixed), "--shots", "1", "--variants",
                 "user-bias", "--scenario", "new-user"]) == 0
    assert "scenario new-user" in capsys.readouterr().out


def test_generate_sample_keeps_csv_data(tmp_path, capsys):
    (tmp_path / "ratings.csv").write_text("user_id,item_id,rating\n1,1,5\n")
    assert main(["generate-sample", "--out", str(tmp_path)]) == 2
    assert "already contains ratings.csv" in capsys.readouterr().err
    assert not (tmp_path / "u.data").exists()
