"""Tests for exporting and re-importing a profile (metarec.ui.profile_io)."""

import json

import pytest

from metarec.ui.profile_io import (MAX_BYTES, ProfileError, profile_csv, profile_json,
                                   read_profile)

RATINGS = {1: 5.0, 2: 4.0, 3: 1.0}
USER = {"age": 31, "gender": "F", "occupation": "student", "zip_code": "12345"}


@pytest.fixture(scope="module")
def titles(sample_dataset):
    return sample_dataset.item_titles()


def test_json_round_trip(sample_dataset):
    text = profile_json(sample_dataset, RATINGS, USER)
    profile = read_profile(text.encode(), "me.json", sample_dataset)

    assert profile.ratings == RATINGS
    assert profile.user == USER
    assert profile.notes == []


def test_csv_round_trip(sample_dataset, titles):
    text = profile_csv(sample_dataset, RATINGS)
    profile = read_profile(text.encode(), "me.csv", sample_dataset)

    assert text.splitlines()[0] == "item_id,title,rating"
    assert f"1,{titles[1]},5" in text.splitlines()
    assert profile.ratings == RATINGS
    assert profile.user == {}


def test_csv_without_titles_and_header_case(sample_dataset):
    profile = read_profile(b"Item_ID,Rating\n1,5\n\n2, 3\n", "me.csv", sample_dataset)
    assert profile.ratings == {1: 5.0, 2: 3.0}


def test_other_dataset_name_gives_note(sample_dataset):
    document = json.loads(profile_json(sample_dataset, RATINGS))
    document["dataset"] = "ml-100k"
    profile = read_profile(json.dumps(document).encode(), "me.json", sample_dataset)

    assert profile.ratings == RATINGS
    assert "saved on 'ml-100k', not 'sample_data'" in profile.notes[0]


@pytest.mark.parametrize("content, name, message", [
    (b"{not json", "p.json", r"'p.json' is not valid JSON: Expecting property name"),
    (b"[1, 2]", "p.json", r"must be a JSON object with a \"ratings\" list"),
    (b'{"ratings": {"1": 5}}', "p.json", r"must be a list of objects"),
    (b'{"format": "other", "ratings": []}', "p.json", r"has format 'other'"),
    (b'{"version": 2, "ratings": []}', "p.json", r"profile version 2"),
    (b'{"ratings": []}', "p.json", r"'p.json' contains no ratings"),
    (b"", "p.json", r"'p.json' is empty\. Upload a profile saved"),
    (b'{"ratings": [{"item_id": 1, "rating": 9}]}', "p.json",
     r"entry 1: rating 9 is not a whole number of stars from 1 to 5"),
    (b'{"ratings": [{"item_id": 1, "rating": 4.5}]}', "p.json",
     r"rating 4.5 is not a whole number of stars"),
    (b'{"ratings": [{"item_id": 1, "rating": "five"}]}', "p.json",
     r"rating 'five' is not a number"),
    (b'{"ratings": [{"item_id": 1, "rating": NaN}]}', "p.json", r"rating nan is not a number"),
    (b'{"ratings": [{"item_id": "x", "rating": 3}]}', "p.json",
     r"item_id 'x' is not an integer"),
    (b'{"ratings": [{"item_id": 99999, "rating": 3}]}', "p.json",
     r"item 99999 is not in the catalogue of 'sample_data'"),
    (b'{"ratings": [{"item_id": 1, "rating": 3}, {"item_id": 1, "rating": 4}]}', "p.json",
     r"entry 2: item 1 is rated more than once"),
    (b'{"ratings": [{"item_id": 1, "title": "Star Wars (1977)", "rating": 3}]}', "p.json",
     r"not 'Star Wars \(1977\)'; the profile may come from other data"),
    (b'{"ratings": [{"item_id": 1, "rating": 3}], "user": {"age": 200}}', "p.json",
     r"age 200 in 'p.json' must be a whole number from 1 to 120"),
    (b'{"ratings": [{"item_id": 1, "rating": 3}], "user": {"gender": "x"}}', "p.json",
     r"gender 'x' in 'p.json' must be 'F' or 'M'"),
    (b'{"ratings": [{"item_id": 1, "rating": 3}], "user": {"occupation": "pilot"}}',
     "p.json", r"occupation 'pilot' in 'p.json' is not one of"),
    (b'{"ratings": [{"item_id": 1, "rating": 3}], "user": {"shoe": 42}}', "p.json",
     r"unknown fields \['shoe'\]"),
    (b"item,stars\n1,5\n", "p.csv", r"lacks the column\(s\) item_id, rating"),
    (b"item_id,rating\n1,5\n1,4\n", "p.csv", r"line 3: item 1 is rated more than once"),
    (b"item_id,rating\n", "p.csv", r"'p.csv' contains no ratings"),
    (b"\xff\xfe1,5", "p.csv", r"'p.csv' is not UTF-8 text"),
    (b"item_id,rating\n1,5\n", "p.txt", r"'p.txt' must end in .json or .csv"),
])
def test_malformed_profile_raises(sample_dataset, content, name, message):
    with pytest.raises(ProfileError, match=message):
        read_profile(content, name, sample_dataset)


def test_problems_listed_together(sample_dataset):
    lines = "\n".join(f"{99990 + i},3" for i in range(8))
    with pytest.raises(ProfileError, match=r"; and 3 more problem\(s\)$"):
        read_profile(f"item_id,rating\n{lines}\n".encode(), "p.csv", sample_dataset)


def test_oversized_profile_raises(sample_dataset):
    with pytest.raises(ProfileError, match="a profile may be at most 1,000,000 bytes"):
        read_profile(b" " * (MAX_BYTES + 1), "p.json", sample_dataset)


def test_merge_summary_names_changed_ratings():
    from metarec.ui.profile_io import merge_summary

    titles = {1: "A (1990)", 2: "B (1991)", 3: "C (1992)"}
    current = {1: 2.0, 3: 4.0}
    loaded = {1: 5.0, 2: 4.0, 3: 4.0}

    assert (merge_summary(current, loaded, titles, replace=False)
            == "Added 1 new rating, changed 1 (A (1990): 2★ → 5★).")
    assert (merge_summary(current, {2: 4.0}, titles, replace=True)
            == "Loaded 1 rating in place of your 2, removed 2 (A (1990) 2★, C (1992) 4★).")
    assert merge_summary({}, loaded, titles, replace=True) == "Loaded 3 ratings."


def test_merge_summary_truncates_long_lists():
    from metarec.ui.profile_io import MAX_LISTED, merge_summary

    current = {item: 1.0 for item in range(MAX_LISTED + 2)}
    loaded = {item: 5.0 for item in current}
    summary = merge_summary(current, loaded, {}, replace=False)

    assert summary.startswith(f"Added 0 new ratings, changed {MAX_LISTED + 2} (item 0: 1★")
    assert summary.endswith(" and 2 more).")
