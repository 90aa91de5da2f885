"""The tables that train and evaluate print."""

from metarec.cli import _print_table


def records(counts):
    """One student row per (split seed, K) with the given user count."""
    return [{"split_seed": seed, "variant": "student", "shots": shots, "users": users,
             "mae": 0.8} for (seed, shots), users in counts.items()]


def test_heading_single_count(capsys):
    _print_table(records({(0, "1"): 79, (0, "all"): 79}), "test users")
    assert "by support size K (79 users)" in capsys.readouterr().out


def test_heading_count_per_column(capsys):
    _print_table(records({(0, "1"): 62, (0, "5"): 49, (0, "all"): 62}), "test users")
    assert "(users per K: K=1: 62, K=5: 49, K=all: 62)" in capsys.readouterr().out


def test_heading_range_over_seeds(capsys):
    _print_table(records({(0, "1"): 79, (1, "1"): 86}), "test users")
    assert "(79 to 86 users)" in capsys.readouterr().out


def test_single_ranker_note_singular(capsys):
    rows = records({(0, "1"): 79})
    rows.append({"split_seed": 0, "variant": "random", "shots": "1", "users": 79,
                 "mae": float("nan")})
    _print_table(rows, "test users")
    assert "- : random predicts no ratings (it only ranks items), so it has no MAE" in (
        capsys.readouterr().out)
