"""Command-line messages, help texts and log lines: each names the value and the fix."""

import logging
import subprocess
import sys
from pathlib import Path

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
    check_cut_year(pd.DataFrame({"item_id": [1], "year": [1990.0]}), 1990)


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
                         "run_benchmark.py's", "--reuse reuse"],
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
