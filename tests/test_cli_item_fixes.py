"""The command line with item models: the parts they score, their default folder, hints."""

import json
from pathlib import Path

import pytest

from metarec.cli import MODELS_DIR_ENV, item_models_dir, main
from metarec.data import DATA_DIR_ENV, load_dataset


def flat(text):
    """``text`` with every run of whitespace as one space, so wrapped help matches."""
    return " ".join(text.split())


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Run in ``tmp_path`` with the sample and the default models folder models/sample_data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tmp_path


def write_manifest(folder, name="manifest.json", source=None, fingerprint="0" * 64):
    """Write a metarec manifest into ``folder``: the sample's when ``source`` is None."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = load_dataset(None)
    dataset = ({"name": sample.name, "ratings": sample.n_ratings, "source": sample.source,
                "fingerprint": sample.fingerprint()} if source is None else
               {"name": "ml-100k", "ratings": 100000, "source": source,
                "fingerprint": fingerprint})
    (folder / name).write_text(json.dumps({"versions": {"metarec": "0"},
                                           "dataset": dataset}))


def record_target(monkeypatch):
    """Stop train where it would start training, with the folder it would train into."""
    def stop(dataset, target, **kwargs):
        raise ValueError(f"stopped before training into {str(target)!r}")

    monkeypatch.setattr("metarec.pipeline.train_models", stop)


def link_models(models, folder):
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(models, target_is_directory=True)


# --users train ------------------------------------------------------------------------

def test_evaluate_rejects_train_items(tiny_item_models, monkeypatch, capsys):
    def load(*args, **kwargs):
        raise AssertionError("item models were loaded")

    monkeypatch.setattr("metarec.serving.items.ItemRecommender.load", load)
    assert main(["evaluate", "--models", str(tiny_item_models), "--users", "train"]) == 2
    error = flat(capsys.readouterr().err)
    assert f"--users train cannot be scored with the models in '{tiny_item_models}'" in error
    assert "new-item models have no train items to score" in error
    assert "split into validation and test; pass --users test or --users validation" in error


def test_train_items_rejected_before_loading(tmp_path, capsys):
    assert main(["evaluate", "--scenario", "new-item", "--users", "train", "--data",
                 str(tmp_path / "nowhere")]) == 2
    error = capsys.readouterr().err
    assert "--users train cannot be scored with --scenario new-item" in error
    assert "does not exist" not in error


def test_train_users_of_new_user_new_item_items(tiny_item_models, tmp_path, capsys):
    # Item models of new-user-new-item have train users, whose ratings of new items
    # form the tasks, so --users train is scored for them.
    import shutil

    models = tmp_path / "nuni"
    shutil.copytree(tiny_item_models, models)
    manifest = json.loads((models / "item_manifest.json").read_text())
    manifest["scenario"]["scenario"] = "new-user-new-item"
    (models / "item_manifest.json").write_text(json.dumps(manifest))
    assert main(["evaluate", "--models", str(models), "--users", "train", "--shots", "1",
                 "--variants", "genre-mean"]) == 0
    assert "train users: query MAE by support size K" in capsys.readouterr().out


def test_train_users_still_scored(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--users", "train", "--shots",
                 "5", "--variants", "user-bias"]) == 0
    assert "train users: query MAE by support size K" in capsys.readouterr().out


# Default folder of item models -----------------------------------------------------------

def test_item_default_beside_user_models(workdir, monkeypatch, capsys):
    record_target(monkeypatch)
    write_manifest(Path("models/sample_data"))
    assert main(["train", "--scenario", "new-item", "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert "stopped before training into 'models/sample_data/items'" in error


def test_user_default_beside_item_models(workdir, monkeypatch, capsys):
    record_target(monkeypatch)
    write_manifest(Path("models/sample_data/items"), "item_manifest.json")
    (workdir / "models/sample_data/items/item-teacher.pt").write_bytes(b"")
    assert main(["train", "--epochs", "1"]) == 2
    assert "stopped before training into 'models/sample_data'" in capsys.readouterr().err


def test_item_default_keeps_earlier_folder(workdir, monkeypatch, capsys):
    # Item models that train wrote into the models folder itself, where the dashboard
    # reads them, are retrained there.
    record_target(monkeypatch)
    write_manifest(Path("models/sample_data"), "item_manifest.json")
    assert main(["train", "--scenario", "new-item", "--epochs", "1"]) == 2
    assert "stopped before training into 'models/sample_data'" in capsys.readouterr().err


def test_both_kinds_folder_retrained_in_place(workdir, monkeypatch, capsys):
    # The dashboard reads item models in a folder that also has user models, so train
    # must retrain them there, not in an items subfolder the dashboard never reads.
    record_target(monkeypatch)
    write_manifest(Path("models/sample_data"))
    write_manifest(Path("models/sample_data"), "item_manifest.json")
    assert main(["train", "--scenario", "new-item", "--epochs", "1"]) == 2
    assert "stopped before training into 'models/sample_data'" in capsys.readouterr().err


def test_item_default_keeps_seed_folders(workdir):
    # Item models that an earlier 'train --scenario new-item --seeds 0' left.
    write_manifest(Path("models/sample_data/seed-0"), "item_manifest.json")

    assert item_models_dir(Path("models/sample_data")) == Path("models/sample_data")


def test_other_data_in_earlier_item_folder(workdir, monkeypatch, capsys):
    # The suggestion used to drop the models/ folder for item models in the models folder.
    record_target(monkeypatch)
    write_manifest(Path("models/sample_data"), "item_manifest.json", source="/data/ml-100k")
    assert main(["train", "--scenario", "new-item", "--epochs", "1"]) == 2
    assert "--out 'models/sample_data-models'" in capsys.readouterr().err


def test_item_models_out_unchanged(workdir, monkeypatch, capsys):
    record_target(monkeypatch)
    assert main(["train", "--scenario", "new-item", "--epochs", "1", "--out", "mine"]) == 2
    assert "stopped before training into 'mine'" in capsys.readouterr().err


def test_other_data_item_folder_suggestion(workdir, monkeypatch, capsys):
    record_target(monkeypatch)
    write_manifest(Path("models/sample_data/items"), "item_manifest.json",
                   source="/data/ml-100k")
    assert main(["train", "--scenario", "new-item", "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert "the default item models folder 'models/sample_data/items' contains models" \
        in error
    assert "--out 'models/sample_data-models/items'" in error


def test_evaluate_new_item_default_folder(workdir, tiny_item_models, capsys):
    link_models(tiny_item_models, workdir / "models/sample_data/items")
    assert main(["evaluate", "--scenario", "new-item", "--shots", "5", "--variants",
                 "genre-mean"]) == 0
    assert "models: models/sample_data/items" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_help_names_item_models_folder(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = flat(capsys.readouterr().out)
    assert "models/DATASET_NAME" in text
    assert "with --scenario new-item, its items subfolder" in text


# Messages about item models --------------------------------------------------------------

def test_seeds_on_single_item_models(tiny_item_models, capsys):
    assert main(["evaluate", "--models", str(tiny_item_models), "--seeds", "0", "1"]) == 2
    error = capsys.readouterr().err
    assert f"'{tiny_item_models}' holds a single set of models" in error
    assert "leave out --seeds to evaluate it" in error


def test_missing_seed_of_item_models(workdir, tiny_item_models, capsys):
    write_manifest(Path("models/sample_data"))
    link_models(tiny_item_models, workdir / "runs/seed-0")
    assert main(["evaluate", "--models", "runs", "--seeds", "0", "1"]) == 2
    error = capsys.readouterr().err
    assert "no trained models in 'runs/seed-1' (item_manifest.json not found)" in error
    # models/sample_data contains user models, so the message must not suggest it.
    assert "--models models/sample_data" not in error
    assert "run: python -m metarec train --scenario new-item --seeds 1 --out runs" in error


def test_missing_item_models_hint(workdir, capsys):
    write_manifest(Path("models/sample_data"))
    write_manifest(Path("models/sample_data/items"), "item_manifest.json")
    assert main(["evaluate", "--scenario", "new-item", "--models", "elsewhere"]) == 2
    error = capsys.readouterr().err
    assert "(item_manifest.json not found). Item models trained on sample_data are in " \
           "'models/sample_data/items': pass --models models/sample_data/items." in error
    assert "run: python -m metarec train --scenario new-item --out elsewhere" in error


@pytest.mark.parametrize("flags", [["--scenario", "new-item"], ["--models", "ITEMS"]])
def test_rating_limits_name_items(flags, tiny_item_models, capsys):
    flags = [str(tiny_item_models) if flag == "ITEMS" else flag for flag in flags]
    assert main(["evaluate", *flags, "--min-ratings", "500"]) == 2
    assert "--min-ratings 500 is above --max-ratings 100, so no item could be scored" in \
        capsys.readouterr().err


def test_rating_limits_name_users(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--min-ratings", "500"]) == 2
    assert "so no user could be scored" in capsys.readouterr().err


def test_new_item_user_folder_hint(tmp_path, monkeypatch, capsys):
    def load(*args, **kwargs):
        raise AssertionError("models were loaded")

    monkeypatch.setattr("metarec.serving.recommender.Recommender.load", load)
    models = tmp_path / "ml-100k"
    write_manifest(models)
    write_manifest(models / "items", "item_manifest.json")
    assert main(["evaluate", "--scenario", "new-item", "--models", str(models)]) == 2
    error = flat(capsys.readouterr().err)
    assert f"'{models}' contains user models (manifest.json)" in error
    assert f"'{models / 'items'}' contains item models: pass --models {models / 'items'}" \
        in error
