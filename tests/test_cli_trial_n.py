"""The command line: interval legend, unscored reasons, missing seeds and metric flags."""

import json
import shutil
from argparse import Namespace

import numpy as np

from metarec.cli import _interval_text, _why_unscored, build_parser, main
from metarec.data import load_dataset
from page_helpers import flat

IMPLICIT_SOURCE = ("/data/sample_data (implicit feedback, 1 sampled dislikes per "
                   "interaction, seed 3)")


def write_manifest(folder, scenario="new-user", dataset=None):
    """Write the manifest of user models for ``scenario``, trained on the sample by default."""
    folder.mkdir(parents=True, exist_ok=True)
    if dataset is None:
        sample = load_dataset(None)
        dataset = {"name": sample.name, "ratings": sample.n_ratings,
                   "source": sample.source, "fingerprint": sample.fingerprint()}
    split = {"scenario": scenario, "users": {"seed": 0}, "new_items": [], "cut_year": None}
    (folder / "manifest.json").write_text(json.dumps(
        {"versions": {"metarec": "0"}, "dataset": dataset, "scenario": split}))


def fail_on_loading(monkeypatch):
    def load(*args, **kwargs):
        raise AssertionError("models were loaded")

    monkeypatch.setattr("metarec.serving.recommender.Recommender.load", load)


def copy_seeds(tiny_models, root, seeds):
    """Copy the tiny models into ``root/seed-N`` for each seed, as train --seeds lays out."""
    for seed in seeds:
        shutil.copytree(tiny_models, root / f"seed-{seed}")


# What "±" means ---------------------------------------------------------------------

def test_seed_table_explains_interval(tiny_models, tmp_path, capsys):
    copy_seeds(tiny_models, tmp_path / "models", (0, 1))
    assert main(["evaluate", "--models", str(tmp_path / "models"), "--seeds", "0", "1",
                 "--shots", "5", "--variants", "user-bias"]) == 0
    output = capsys.readouterr().out
    assert ("± : 95% confidence half-width of the mean over 2 seeds (Student's t, 1 "
            "degree of freedom: t = 12.71, so the interval is wide; with 3 seeds "
            "t = 4.30)") in output


def test_interval_text_for_three_seeds():
    assert _interval_text([3]) == ("± : 95% confidence half-width of the mean over 3 "
                                   "seeds (Student's t, 2 degrees of freedom: t = 4.30)")


def test_interval_text_for_uneven_cells():
    assert "over the N seeds that scored each cell (N from 2 to 3; Student's t, N - 1 " \
        "degrees of freedom)" in _interval_text([2, 3])


# Why no user could be scored --------------------------------------------------------

def test_unscored_reason_names_max_ratings():
    args = Namespace(query_size=10, min_ratings=13, max_ratings=15, users="test")
    message = _why_unscored(1, args, "user", np.array([31, 1518]))
    assert message.startswith("every test user has more than --max-ratings 15 ratings (the "
                              "one with the fewest has 31)")
    assert message.endswith("Pass --max-ratings 0 (no limit), or --max-ratings 31 or more")
    assert "with the most ratings" not in message


def test_unscored_reason_names_min_ratings():
    args = Namespace(query_size=10, min_ratings=50, max_ratings=100, users="test")
    message = _why_unscored(1, args, "user", np.array([20, 40]))
    assert message == ("every test user has fewer than the 50 ratings of --min-ratings. The "
                       "test user with the most ratings has 40: pass --min-ratings 40")


def test_unscored_reason_names_query_need():
    args = Namespace(query_size=10, min_ratings=1, max_ratings=0, users="test")
    message = _why_unscored(5, args, "user", np.array([8, 9]))
    assert message.startswith("every test user has fewer than the 15 ratings that K=5 "
                              "needs (10 query + 5 support)")


def test_unscored_reason_names_both_limits():
    args = Namespace(query_size=10, min_ratings=13, max_ratings=15, users="test")
    message = _why_unscored(1, args, "user", np.array([5, 8, 31, 40]))
    assert message == ("2 test users have fewer than the 13 ratings of --min-ratings (the "
                       "one with the most has 8), and 2 more than --max-ratings 15 (the one "
                       "with the fewest has 31). Pass --max-ratings 0 (no limit), or "
                       "--max-ratings 31 or more")


def test_max_ratings_excludes_every_user(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "1", "--variants",
                 "student", "--max-ratings", "15"]) == 2
    error = flat(capsys.readouterr().err)
    assert (f"no test user of the models in '{tiny_models}' could be scored at K=1: every "
            f"test user has more than --max-ratings 15 ratings") in error
    assert "Pass --max-ratings 0 (no limit)" in error


# A missing seed folder ------------------------------------------------------------------

def test_missing_seed_offers_existing_seeds(workdir, capsys):
    for seed in (0, 1):
        write_manifest(workdir / "M" / f"seed-{seed}")
    assert main(["evaluate", "--models", "M", "--seeds", "0", "1", "2"]) == 2
    error = flat(capsys.readouterr().err)
    assert ("no trained models in 'M/seed-2' (manifest.json not found); seeds 0 1 have "
            "models. To evaluate those, pass --seeds 0 1.") in error
    assert error.endswith("run: python -m metarec train --seeds 2 --out M")


def test_missing_seeds_keep_scenario(workdir, capsys):
    write_manifest(workdir / "both" / "seed-0", "new-user-new-item")
    assert main(["evaluate", "--models", "both", "--seeds", "0", "1", "2"]) == 2
    error = flat(capsys.readouterr().err)
    assert "no trained models in 'both/seed-1' and 'both/seed-2'" in error
    assert "seed 0 has models. To evaluate those, pass --seeds 0." in error
    assert ("run: python -m metarec train --scenario new-user-new-item --seeds 1 2 --out "
            "both") in error


# Models of implicit-feedback data -------------------------------------------------------

def test_implicit_models_point_to_python(workdir, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    write_manifest(workdir / "IMP", dataset={
        "name": "sample_data-implicit", "ratings": 100, "source": IMPLICIT_SOURCE,
        "fingerprint": "0" * 64})
    assert main(["evaluate", "--models", "IMP"]) == 2
    error = flat(capsys.readouterr().err)
    assert ("the models in 'IMP' were trained on 'sample_data-implicit', implicit-feedback "
            "data that metarec.data.implicit.implicit_to_like converted in Python; the "
            "command line reads no converted data") in error
    assert ('converted = implicit_to_like(load_dataset("/data/sample_data"), negatives=1, '
            'seed=3)') in error
    assert "print(evaluate_scenario(models, converted, [1, 5]))" in error
    assert "models were loaded" not in error


def test_implicit_name_without_source(workdir, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    write_manifest(workdir / "IMP", dataset={
        "name": "sample_data-implicit", "ratings": 100, "source": None,
        "fingerprint": "0" * 64})
    assert main(["evaluate", "--models", "IMP"]) == 2
    error = flat(capsys.readouterr().err)
    assert "converted = implicit_to_like(load_dataset());" in error
    assert "models were loaded" not in error


# Catalogue metrics without --catalogue --------------------------------------------------

def test_catalogue_metrics_rejected_early(tiny_models, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    assert main(["evaluate", "--models", str(tiny_models), "--metrics", "precision@10",
                 "recall@10"]) == 2
    captured = capsys.readouterr()
    assert ("--metrics precision@10 recall@10 need --catalogue, which ranks the whole "
            "catalogue; add --catalogue (slower), or leave them out of --metrics"
            in flat(captured.err))
    assert "models were loaded" not in captured.err
    assert captured.out == ""


def test_some_catalogue_metrics_rejected(tiny_models, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    assert main(["evaluate", "--models", str(tiny_models), "--metrics", "mae",
                 "catalogue_ndcg@10"]) == 2
    error = flat(capsys.readouterr().err)
    assert "--metrics catalogue_ndcg@10 needs --catalogue" in error
    assert "leave it out of --metrics" in error


# --quiet ------------------------------------------------------------------------------------

def test_evaluate_shows_scoring_progress(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "5",
                 "--variants", "user-bias"]) == 0
    assert "scoring:   0%" in capsys.readouterr().err


def test_evaluate_quiet_hides_progress(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "5",
                 "--variants", "user-bias", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "scoring" not in captured.err
    assert "MAE K=5" in captured.out


def test_evaluate_help_lists_quiet():
    help_text = flat(build_parser().commands["evaluate"].format_help())
    assert "--quiet hide the progress bar of the scoring" in help_text


# Metric names -------------------------------------------------------------------------------

def test_metric_names_in_any_case(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--shots", "5", "--variants",
                 "user-bias", "--metrics", "AUC", "Rmse"]) == 0
    output = capsys.readouterr().out
    assert "AUC K=5" in output
    assert "RMSE K=5" in output


def test_every_unknown_metric_named(tiny_models, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    assert main(["evaluate", "--models", str(tiny_models), "--metrics", "AUCX", "mae",
                 "ndcg@10"]) == 2
    error = flat(capsys.readouterr().err)
    assert "--metrics 'AUCX', 'ndcg@10' are not metrics; choose from mae rmse" in error


def test_unknown_metric_named_once(tiny_models, monkeypatch, capsys):
    fail_on_loading(monkeypatch)
    assert main(["evaluate", "--models", str(tiny_models), "--metrics", "foo", "FOO"]) == 2
    error = flat(capsys.readouterr().err)
    assert "--metrics 'foo' is not a metric; choose from mae rmse" in error


def test_notes_printed_when_later_folder_fails(tiny_models, tmp_path, capsys):
    # seed-1's network file is damaged, which stops the run after seed-0 was scored.
    copy_seeds(tiny_models, tmp_path / "models", (0, 1))
    (tmp_path / "models" / "seed-1" / "student.pt").write_bytes(b"damaged")
    assert main(["evaluate", "--models", str(tmp_path / "models"), "--seeds", "0", "1",
                 "--shots", "5", "200", "--variants", "user-bias"]) == 2
    error = flat(capsys.readouterr().err)
    assert "note: K=200 is left out" in error
    # The damaged file is named, where torch's own error named none.
    damaged = tmp_path / "models" / "seed-1" / "student.pt"
    assert f"error: {damaged} cannot be read (UnpicklingError: " in error
    assert "the file is damaged or was not written by metarec; retrain the models." in error


def test_damaged_baseline_file_named(tiny_models, tmp_path, capsys):
    copy_seeds(tiny_models, tmp_path / "models", (0,))
    damaged = tmp_path / "models" / "seed-0" / "user-bias.npz"
    damaged.write_bytes(b"not an archive")
    assert main(["evaluate", "--models", str(tmp_path / "models" / "seed-0"),
                 "--shots", "5"]) == 2
    error = flat(capsys.readouterr().err)
    assert f"error: {damaged} cannot be read (" in error
    assert "retrain the models." in error


def test_damaged_item_network_named(tiny_item_models, tmp_path):
    import pytest

    from metarec.serving.items import ItemRecommender
    from metarec.serving.store import ModelsDirectoryError

    folder = tmp_path / "items"
    shutil.copytree(tiny_item_models, folder)
    damaged = next(folder.glob("*.pt"))
    damaged.write_bytes(b"")
    with pytest.raises(ModelsDirectoryError, match="retrain the item models"):
        ItemRecommender.load(folder, load_dataset(None))
