"""Command-line messages, help texts and log lines: each names the value and the fix."""

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metarec.cli import build_parser, main
from metarec.item_pipeline import train_item_models

REPO = Path(__file__).resolve().parent.parent


def flat(text):
    """``text`` with every run of whitespace as one space, so wrapped help matches."""
    return " ".join(text.split())


def help_of(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return flat(capsys.readouterr().out)


def test_evaluate_points_to_seed_folders(tiny_models, tmp_path, capsys):
    root = tmp_path / "runs"
    root.mkdir()
    for seed in (0, 1):
        (root / f"seed-{seed}").symlink_to(tiny_models, target_is_directory=True)
    # A folder named like a seed but without models is not listed.
    (root / "seed-7").mkdir()
    assert main(["evaluate", "--models", str(root)]) == 2
    error = capsys.readouterr().err
    assert f"'{root}' contains one models folder per seed (seed-0, seed-1" in error
    assert "add --seeds 0 1 to evaluate them" in error
    assert "To train models there" not in error


def test_cut_year_after_last_release(sample_dataset, tmp_path, capsys):
    latest = int(sample_dataset.items["year"].max())
    for scenario in ("new-item", "new-user-new-item"):
        out = tmp_path / scenario
        assert main(["train", "--scenario", scenario, "--cut-year", "2050", "--epochs", "1",
                     "--quiet", "--out", str(out)]) == 2, scenario
        error = capsys.readouterr().err
        assert "no item was released in or after the cut year 2050" in error
        assert f"the latest release year in the data is {latest}" in error
        assert "--cut-year" in error
        assert not out.exists()


def test_library_rejects_late_cut_year(sample_dataset, tmp_path):
    with pytest.raises(ValueError, match="released in or after the cut year 2050"):
        train_item_models(sample_dataset, tmp_path / "items", epochs=1, cut_year=2050)


def test_cut_year_without_release_years():
    from metarec.item_pipeline import check_cut_year

    items = pd.DataFrame({"item_id": [1, 2], "year": [float("nan")] * 2})
    with pytest.raises(ValueError, match="no item has a release year"):
        check_cut_year(items, 1990)
    check_cut_year(items, None)
    check_cut_year(pd.DataFrame({"item_id": [1, 2], "year": [1980.0, 1990.0]}), 1990)


def test_cut_year_help_names_both_scenarios(capsys):
    assert "--cut-year CUT_YEAR new-item and new-user-new-item: items released" in \
        help_of("train", capsys)


def test_verbose_before_or_after_command():
    parser = build_parser()
    for argv in (["-v", "evaluate"], ["evaluate", "-v"], ["train", "--verbose"],
                 ["download", "ml-100k", "-v"], ["generate-sample", "-v"]):
        assert parser.parse_args(argv).verbose is True, argv
    assert parser.parse_args(["evaluate"]).verbose is False


def test_seed_with_seeds_rejected(tmp_path, capsys):
    # A missing --data folder makes the command fail fast if the two flags were accepted.
    assert main(["train", "--seed", "3", "--seeds", "0", "1", "--data",
                 str(tmp_path / "nowhere"), "--out", str(tmp_path / "models")]) == 2
    error = capsys.readouterr().err
    assert "--seed 3 and --seeds 0 1 cannot be combined" in error
    assert "does not exist" not in error


def test_rejected_share_shows_enough_decimals(tmp_path, capsys):
    rows = [f"u{i % 50},m{i // 50},{1 + i % 5}" for i in range(1057)]
    rows += [f"u{i},m0,bad" for i in range(5)]
    path = tmp_path / "ratings.csv"
    path.write_text("user_id,item_id,rating\n" + "\n".join(rows) + "\n")
    assert main(["train", "--data", str(path), "--max-rejected", "0.001",
                 "--out", str(tmp_path / "models")]) == 2
    assert "5 of 1062 data rows (0.5%) are invalid, more than the allowed 0.1%" in \
        capsys.readouterr().err


@pytest.mark.parametrize("share, limit, expected", [
    (5 / 1062, 0.001, ("0.5%", "0.1%")),
    (2 / 3, 0.1, ("67%", "10%")),
    (0.1004, 0.1, ("10.04%", "10%")),
    (0.15, 0.1, ("15%", "10%")),
])
def test_distinct_percents(share, limit, expected):
    from metarec.data.csv_rows import _distinct_percents

    assert _distinct_percents(share, limit) == expected


def test_rating_limits_help_names_items(capsys):
    text = help_of("evaluate", capsys)
    assert "--min-ratings MIN_RATINGS leave out users (items in the new-item scenario) " \
           "with fewer ratings" in text
    assert "--max-ratings MAX_RATINGS leave out users (items in the new-item scenario) " \
           "with more ratings" in text


def test_item_training_log_line(sample_dataset, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="metarec"):
        train_item_models(sample_dataset, tmp_path / "items", epochs=1, cut_year=1996)
    line = next(r.getMessage() for r in caplog.records if "new items" in r.getMessage())
    assert "new-item split seed 0, cut year 1996:" in line
    assert "1996.0" not in line
    training = line.rsplit(": ", 1)[1]
    count = int(training.split(" new items, ")[1].split(" training")[0].replace(",", ""))
    assert count >= 1000
    assert f"{count:,} training ratings" in training


# Each script's options that must explain themselves, with the start of their help.
BENCHMARK_HELP = {
    "run_benchmark.py": ["--seeds SEEDS [SEEDS ...] seeds of", "--shots SHOTS [SHOTS ...] "
                         "support sizes", "--out OUT Markdown file", "--models MODELS folder",
                         "--reuse reuse"],
    "run_tradeoffs.py": ["--seeds SEEDS [SEEDS ...] seeds whose", "--models MODELS "
                         "run_benchmark.py's", "--reuse reuse", "--out OUT Markdown file",
                         "--epochs EPOCHS cap"],
    "run_item_benchmark.py": ["--seeds SEEDS [SEEDS ...] seeds of", "--shots SHOTS "
                              "[SHOTS ...] support sizes", "--out OUT Markdown file",
                              "--models MODELS folder", "--reuse reuse"],
}


@pytest.mark.parametrize("script", sorted(BENCHMARK_HELP))
def test_benchmark_help_gives_defaults(script):
    completed = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--help"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    text = flat(completed.stdout)
    assert "On 2 CPU cores a full run" in text
    assert "minutes" in text
    for start in BENCHMARK_HELP[script]:
        assert start in text
    assert "(default: 0 1 2)" in text
    assert "(default: runs/" in text or "default: runs/" in text


def test_scenario_rejects_late_cut_year(sample_dataset):
    from metarec.tasks.scenarios import make_scenario

    with pytest.raises(ValueError, match="no item was released in or after the cut year 2050"):
        make_scenario(sample_dataset, "new-user-new-item", cut_year=2050)


def test_cut_year_with_new_user_rejected(tmp_path, capsys):
    from metarec.cli import main

    assert main(["train", "--cut-year", "1995", "--out", str(tmp_path / "models")]) == 2
    error = capsys.readouterr().err
    assert "--cut-year 1995 has no effect with --scenario new-user" in error
    assert not (tmp_path / "models").exists()


# Findings of a fresh user's trial of the command line ------------------------------------

def own_csv(tmp_path):
    """Write a 20-rating CSV of four users and an items CSV of its five books."""
    users = [f"ua{number:03d}" for number in range(1, 5)]
    items = [f"BK-{number:04d}" for number in range(1, 6)]
    rows = [f"{user},{item},{1 + (row + column) % 5}"
            for row, user in enumerate(users) for column, item in enumerate(items)]
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("\n".join(["user_id,item_id,rating", *rows]) + "\n")
    books = tmp_path / "books.csv"
    books.write_text("\n".join(["item_id,title,year",
                                *(f"{item},Book {n},{1980 + n}" for n, item in
                                  enumerate(items))]) + "\n")
    return ratings, books


def test_suggested_train_keeps_data_flags(tmp_path, capsys):
    ratings, books = own_csv(tmp_path)
    users = tmp_path / "my users.csv"
    users.write_text("user_id,age\nua001,30\n")
    assert main(["evaluate", "--data", str(ratings), "--items-csv", str(books),
                 "--users-csv", str(users), "--rating-scale", "1", "5",
                 "--max-rejected", "0.2", "--models", str(tmp_path / "none")]) == 2
    error = capsys.readouterr().err
    command = (f"python -m metarec train --data {ratings} --items-csv {books} "
               f"--users-csv '{users}' --rating-scale 1 5 --max-rejected 0.2 "
               f"--out {tmp_path / 'none'}")
    assert f"To train models there, run: {command}\n" in error


def test_unscored_advice_changes_the_outcome():
    from argparse import Namespace

    from metarec.cli import _why_unscored

    args = Namespace(query_size=2, min_ratings=3, max_ratings=100, users="test")
    # One test user with 5 ratings fits no 2-rating query with 5 support ratings, and
    # no --query-size or --min-ratings changes that.
    message = _why_unscored(5, args, "user", np.array([5]))
    assert "(for example --query-size 2 --min-ratings 3)" not in message
    assert message.endswith("The test user with the most ratings has 5: pass --shots 3 "
                            "or fewer")
    # The default 10-rating query: a smaller query and --min-ratings would fit.
    args = Namespace(query_size=10, min_ratings=13, max_ratings=100, users="test")
    assert _why_unscored(1, args, "user", np.array([4, 5])).endswith(
        "The test user with the most ratings has 5: pass --query-size 4 --min-ratings 5")
    # A user left out by --max-ratings fits once the limit is lifted.
    args = Namespace(query_size=2, min_ratings=1, max_ratings=4, users="test")
    assert _why_unscored(1, args, "user", np.array([5])) == (
        "every test user has more than --max-ratings 4 ratings (the one with the fewest "
        "has 5). Pass --max-ratings 0 (no limit), or --max-ratings 5 or more")


def test_cut_year_before_first_release(tmp_path, capsys):
    ratings, books = own_csv(tmp_path)
    assert main(["train", "--data", str(ratings), "--items-csv", str(books), "--scenario",
                 "new-user-new-item", "--cut-year", "1980", "--quiet",
                 "--out", str(tmp_path / "models")]) == 2
    error = capsys.readouterr().err
    assert "no item was released before the cut year 1980" in error
    assert "the earliest release year in the data is 1980" in error
    assert "(--cut-year) of 1981 or later" in error
    assert "ratings is empty" not in error
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("flags, message", [
    (["--min-ratings", "200", "--max-ratings", "100"],
     "--min-ratings 200 is above --max-ratings 100, so no user could be scored; pass a "
     "--min-ratings of 100 or less, or a --max-ratings of 200 or more (0 for no limit)"),
    (["--query-size", "0"], "--query-size must be at least 1, got 0"),
    (["--max-ratings", "-1"], "--max-ratings must be 0 (no limit) or more, got -1"),
    (["--shots", "1", "five"], "--shots five is not a support size; pass whole numbers of "
                               "0 or more, or 'all', such as --shots 1 5 all"),
    (["--shots", "-2"], "--shots -2 is not a support size"),
])
def test_task_flags_named_in_errors(tmp_path, capsys, flags, message):
    ratings, _ = own_csv(tmp_path)
    assert main(["evaluate", "--data", str(ratings), "--models", str(tmp_path / "none"),
                 *flags]) == 2
    error = capsys.readouterr().err
    assert message in error
    for name in ("min_ratings", "max_ratings", "query_size", "shots must"):
        assert name not in error


def test_mistyped_flag_shows_command_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dta", "ratings.csv"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: python -m metarec train ")
    assert "--data DATA" in error
    assert error.rstrip().endswith("python -m metarec train: error: unrecognized "
                                   "arguments: --dta ratings.csv; did you mean --data?")


def test_unknown_flag_without_close_match(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--frobnicate"])
    error = capsys.readouterr().err
    assert error.startswith("usage: python -m metarec evaluate ")
    assert error.rstrip().endswith("unrecognized arguments: --frobnicate")


def test_train_rejects_folder_of_other_files(tmp_path, capsys):
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    (checkout / "setup.py").write_text("")
    assert main(["train", "--quiet", "--out", str(checkout)]) == 2
    error = capsys.readouterr().err
    assert (f"--out '{checkout}' contains other files (.git, setup.py) and no metarec "
            f"models; pass a new or empty folder, such as "
            f"'{tmp_path / 'checkout-models'}'") in error
    assert sorted(p.name for p in checkout.iterdir()) == [".git", "setup.py"]


def test_models_folder_check_allows_models(tiny_models, tmp_path):
    from metarec.cli import _check_models_folder

    # A models folder, with or without other files, and seed folders are accepted.
    _check_models_folder(tiny_models, "--out")
    runs = tmp_path / "runs"
    (runs / "seed-0").mkdir(parents=True)
    (runs / ".teacher.1a2b3c4d.partial.pt").write_text("")
    _check_models_folder(runs, "--out")
    _check_models_folder(tmp_path / "new", "--out")
    # A manifest.json that metarec did not write does not make a models folder.
    web = tmp_path / "web"
    web.mkdir()
    (web / "manifest.json").write_text('{"name": "an app"}')
    with pytest.raises(ValueError, match="contains other files "
                       r"\(manifest.json\) and no metarec models"):
        _check_models_folder(web, "--out")


@pytest.mark.parametrize("argv, flag", [
    (["train", "--seed", "-1"], "--seed -1"),
    (["train", "--seeds", "0", "-2"], "--seeds -2"),
    (["evaluate", "--seeds", "-3"], "--seeds -3"),
    (["evaluate", "--query-seed", "-4"], "--query-seed -4"),
    (["generate-sample", "--seed", "-5"], "--seed -5"),
])
def test_negative_seed_named_before_loading(argv, flag, tmp_path, capsys):
    # A missing --data folder shows whether the data was loaded before the check.
    data = [] if argv[0] == "generate-sample" else ["--data", str(tmp_path / "nowhere")]
    out = ["--out", str(tmp_path / "out")] if argv[0] != "evaluate" else []
    assert main([*argv, *data, *out]) == 2
    error = capsys.readouterr().err
    option, value = flag.split()
    assert f"{option} must be a whole number of 0 or more, got {value}" in error
    assert f"pass, for example, {option} {value[1:]}" in error
    assert "does not exist" not in error


def test_train_trains_repeated_seed_once(tmp_path, monkeypatch, capsys):
    import json

    import metarec.pipeline

    seeds = []

    def fake_train(dataset, target, seed, **kwargs):
        seeds.append(seed)
        target.mkdir(parents=True, exist_ok=True)
        path = target / "fake-manifest.json"
        path.write_text(json.dumps({"train_seconds": 0, "validation": []}))
        return path

    monkeypatch.setattr(metarec.pipeline, "train_models", fake_train)
    assert main(["train", "--seeds", "0", "0", "1", "--out", str(tmp_path / "models"),
                 "--quiet"]) == 0
    assert seeds == [0, 1]
    assert "note: --seeds 0 given more than once; each is trained once" in \
        capsys.readouterr().err


def test_evaluate_header_states_raised_minimum(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--query-size", "50",
                 "--variants", "user-bias", "--shots", "1", "5"]) == 0
    out = capsys.readouterr().out
    assert ("test users with 51 to 100 ratings (K=1 needs 50 query + 1 support ratings, "
            "more than --min-ratings 13)") in out
    assert "13 to 100" not in out


def test_evaluate_header_keeps_minimum_when_enough(tiny_models, capsys):
    assert main(["evaluate", "--models", str(tiny_models), "--variants", "user-bias",
                 "--shots", "1"]) == 0
    assert "test users with 13 to 100 ratings (--min-ratings, --max-ratings)" in \
        capsys.readouterr().out


@pytest.mark.parametrize("command, expected", [
    ("download", "log each step (download, MD5 check, unzip) even with --quiet"),
    ("train", "also log each epoch's training loss and validation error"),
    ("evaluate", "log how CSV data was read (rows kept, rating scale) and timings"),
])
def test_verbose_help_per_command(command, expected, capsys):
    text = help_of(command, capsys)
    assert f"-v, --verbose {expected}" in text
    if command != "train":
        assert "training loss" not in text


def test_generate_sample_help_hides_verbose(capsys):
    assert "--verbose" not in help_of("generate-sample", capsys)


def test_evaluate_help_gives_defaults(capsys):
    text = help_of("evaluate", capsys)
    assert ("--models MODELS models folder written by train (default: $METAREC_MODELS_DIR, "
            "else models/DATASET_NAME, such as models/sample_data for the sample; with "
            "--scenario new-item, its items subfolder)") in text
    assert "--threads THREADS torch threads (default: torch's own choice" in text


@pytest.mark.parametrize("argv, value", [
    (["train", "--seed"], 2**64),
    (["train", "--seeds", "0"], 2**32),
    (["evaluate", "--seeds"], 2**40),
])
def test_seed_above_32_bits_named_before_loading(argv, value, tmp_path, capsys):
    # torch refused 2**64 deep inside training with "Overflow when unpacking long long".
    out = ["--out", str(tmp_path / "out")] if argv[0] != "evaluate" else []
    argv = [*argv, str(value), "--data", str(tmp_path / "nowhere"), *out]
    assert main(argv) == 2
    error = capsys.readouterr().err
    flag = argv[1]
    assert f"{flag} must be at most 4294967295 (2**32 - 1), got {value}" in error
    assert "does not exist" not in error


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64, 1.5, "0", True])
def test_train_models_checks_seed(seed, tmp_path):
    from metarec.pipeline import train_models

    with pytest.raises(ValueError, match=r"seed must be a whole number"):
        train_models(None, tmp_path / "models", seed=seed)
    assert not (tmp_path / "models").exists()


def test_query_seed_above_32_bits_accepted(tmp_path, capsys):
    # The query seed only draws tasks, and numpy takes seeds of any size.
    main(["evaluate", "--query-seed", str(2**40), "--data", str(tmp_path / "nowhere")])
    error = capsys.readouterr().err
    assert "--query-seed must be" not in error
    assert "does not exist" in error
