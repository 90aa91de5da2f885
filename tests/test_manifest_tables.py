"""The home page's tables describe each variant in words."""

import pytest

from metarec.ui.manifest import (describe_ensemble, describe_learner, describe_schedule,
                                 variant_table)


@pytest.mark.parametrize("schedule, expected", [
    ([[0, 1], [3, 3], [13, 5]], "1 step for 0 to 2, 3 steps for 3 to 12, 5 steps for 13 or more "
                                "ratings"),
    ([[0, 1], [3, 3], [13, 3]], "1 step for 0 to 2, 3 steps for 3 or more ratings"),
    ([[0, 2], [3, 2], [15, 2]], "2 steps for any number of ratings"),
])
def test_schedule_in_words(schedule, expected):
    assert describe_schedule({"serve_schedule": schedule}) == expected


def test_schedule_without_bins_uses_serve_steps():
    assert describe_schedule({"inner_steps": 3, "serve_steps": 4}) == (
        "4 steps for any number of ratings")


def test_learner_in_words():
    learner = {"adapt": "personal+decision", "algorithm": "metasgd", "inner_steps": 3,
               "inner_lr": 0.1, "task": "like", "serve_schedule": [[0, 1], [3, 5]]}
    assert describe_learner(learner) == (
        "Meta-SGD for like/dislike: adapts the user's embedding and bias and the decision "
        "layers in 3 steps in training, with a step size learned for each parameter "
        "(starting at 0.1). Serves 1 step for 0 to 2, 5 steps for 3 or more ratings.")


def test_finetune_learner_in_words():
    learner = {"adapt": "personal+decision", "algorithm": "maml", "inner_steps": 0,
               "serve_steps": 5, "inner_lr": 0.1}
    assert describe_learner(learner).startswith("Trained without an inner loop")


def test_variant_table_details():
    manifest = {"variants": {
        "student": {"kind": "meta", "parameters": 10, "spec": {"learner": {
            "adapt": "decision", "algorithm": "fomaml", "inner_steps": 1, "inner_lr": 0.5}}},
        "user-bias": {"kind": "classical", "class": "UserBiasBaseline"},
        "ensemble": {"kind": "ensemble", "members": ["student", "user-bias"],
                     "weights": [[1.0, 0.0], [0.6, 0.0]]},
    }}
    details = variant_table(manifest).set_index("variant")["details"]
    assert details["student"].startswith(
        "First-order MAML: adapts the decision layers in 1 step of size 0.5 in training.")
    assert details["user-bias"] == "shrunk item mean plus the user's shrunk rating bias"
    assert details["ensemble"] == ("Blend of student, with weights fitted for each range of "
                                   "ratings. Also considered, but given weight 0 in every "
                                   "range: user-bias.")


@pytest.mark.parametrize("weights, expected", [
    ([[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
     "Serves student's predictions unchanged: the weights fitted for each range of ratings "
     "give student all the weight. Also considered, but given weight 0 in every range: "
     "teacher, user-bias, mf-als."),
    ([[0.7, 0.0, 0.3, 0.0], [1.0, 0.0, 0.0, 0.0]],
     "Blend of student, user-bias, with weights fitted for each range of ratings. Also "
     "considered, but given weight 0 in every range: teacher, mf-als."),
    ([[0.4, 0.1, 0.3, 0.2]],
     "Blend of student, teacher, user-bias, mf-als, with weights fitted for each range of "
     "ratings."),
])
def test_ensemble_names_members_it_serves(weights, expected):
    entry = {"kind": "ensemble", "members": ["student", "teacher", "user-bias", "mf-als"],
             "weights": weights}
    assert describe_ensemble(entry) == expected


def test_variant_kind_says_how_it_was_trained():
    manifest = {"variants": {
        "student": {"kind": "meta", "spec": {"learner": {"inner_steps": 3}}},
        "finetune": {"kind": "meta", "spec": {"learner": {"inner_steps": 0}}},
        "user-bias": {"kind": "classical", "class": "UserBiasBaseline"},
    }}
    kinds = variant_table(manifest).set_index("variant")["kind"]
    assert kinds["student"] == "meta-learned"
    assert kinds["finetune"] == "pretrained"
    assert kinds["user-bias"] == "classical"
