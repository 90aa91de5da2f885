"""Export a person's profile to JSON or CSV and read it back, checking every field.

A JSON profile is an object::

    {"format": "metarec-profile", "version": 1, "dataset": "ml-100k",
     "ratings": [{"item_id": 50, "title": "Star Wars (1977)", "rating": 5}, ...],
     "user": {"age": 31, "gender": "F"}}

A CSV profile has a header row with ``item_id`` and ``rating`` columns and, optionally,
``title``; it carries no demographics. Titles are written for people to read and, when
present, are checked against the catalogue so that a profile from other data is caught.

Item ids are the dataset's own (``BK-0020`` in a CSV of your own), not the numbers
metarec gives them internally. Reading also takes those internal numbers, which older
profiles contain, where the number names no other item by its own id.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field

from ..data import Dataset

FORMAT = "metarec-profile"
VERSION = 1
# Every ML-100K movie rated comes to about 120 kB of JSON, so a larger file is no profile.
MAX_BYTES = 1_000_000
MAX_LISTED = 5
USER_FIELDS = ("age", "gender", "occupation", "zip_code")


class ProfileError(ValueError):
    """An uploaded profile cannot be read; the message names the problem and the fix."""


@dataclass
class Profile:
    """Ratings and demographics read from a profile file.

    Attributes
    ----------
    ratings : dict of int to float
    user : dict
        Demographic fields present in the file (JSON only).
    notes : list of str
        Things the person should know that did not stop the import.
    """

    ratings: dict
    user: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def profile_json(dataset: Dataset, ratings: dict, user: dict | None = None) -> str:
    """Return ``ratings`` and ``user`` as a JSON profile of ``dataset``."""
    titles = dataset.item_titles()
    document = {
        "format": FORMAT,
        "version": VERSION,
        "dataset": dataset.name,
        "ratings": [{"item_id": own, "title": titles.get(int(item), ""),
                     "rating": _plain_number(value)}
                    for own, (item, value) in zip(_own_ids(dataset, ratings),
                                                  ratings.items())],
        "user": {key: value for key, value in (user or {}).items() if key in USER_FIELDS},
    }
    return json.dumps(document, indent=1, ensure_ascii=False)


def profile_csv(dataset: Dataset, ratings: dict) -> str:
    """Return ``ratings`` as CSV with the columns ``item_id``, ``title``, ``rating``."""
    titles = dataset.item_titles()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["item_id", "title", "rating"])
    for own, (item, value) in zip(_own_ids(dataset, ratings), ratings.items()):
        writer.writerow([own, titles.get(int(item), ""), _plain_number(value)])
    return out.getvalue()


def _own_ids(dataset: Dataset, items) -> list:
    """Return the dataset's own id of each of ``items``: a number where it is one, else text."""
    originals = dataset.original_item_ids()
    own = []
    for item in items:
        original = originals.get(int(item), str(int(item)))
        number = _integer(original)
        own.append(number if number is not None and str(number) == original else original)
    return own


def merge_summary(current: dict, loaded: dict, titles: dict, replace: bool) -> str:
    """Return a confirmation of what replacing ``current`` with ``loaded``, or adding
    ``loaded`` to it, changed.

    Each changed rating, and on replace each removed one, is named with its stars (the
    first :data:`MAX_LISTED`), so that no rating the person entered is lost unmentioned.
    """
    added = [item for item in loaded if item not in current]
    removed = [item for item in current if item not in loaded] if replace else []
    if replace:
        parts = [f"Loaded {_count(len(loaded), 'rating')}"
                 + (f" in place of your {len(current)}" if current else "")]
    else:
        parts = [f"Added {len(added)} new {'rating' if len(added) == 1 else 'ratings'}"]
    changed = changed_ratings(current, loaded)
    if changed:
        listed = changes_text(changed, current, loaded, titles)
        parts.append(f"changed {len(changed)} ({listed})")
    if removed:
        parts.append(f"removed {len(removed)} (" + _listed(
            removed, lambda i: f"{titles.get(i, f'item {i}')} {current[i]:g}★") + ")")
    return ", ".join(parts) + "."


def changed_ratings(current: dict, loaded: dict) -> list:
    """Return the items that both ``current`` and ``loaded`` rate, with other stars."""
    return [item for item in loaded if item in current and current[item] != loaded[item]]


def changes_text(items, current: dict, loaded: dict, titles: dict) -> str:
    """Return "Title: 2★ → 5★, ..." for ``items``, the first :data:`MAX_LISTED` of them."""
    return _listed(items, lambda i: f"{titles.get(i, f'item {i}')}: {current[i]:g}★ → "
                                    f"{loaded[i]:g}★")


def _listed(items, text) -> str:
    listed = ", ".join(text(item) for item in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return listed + (f" and {more} more" if more > 0 else "")


def _count(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _plain_number(value):
    value = float(value)
    return int(value) if value.is_integer() else value


def read_profile(data: bytes, filename: str, dataset: Dataset) -> Profile:
    """Parse an uploaded profile and check it against ``dataset``.

    The format follows the file name's extension (``.json`` or ``.csv``).

    Raises
    ------
    ProfileError
        If the file is too large, not UTF-8, not valid JSON or CSV, or has no
        ratings (a JSON file may instead have only fields about the person). Also if
        a rating entry is malformed or repeated, is not a whole star of the rating
        scale, names an item outside the catalogue or gives it another title, and if a
        demographic field is invalid.
    """
    if len(data) > MAX_BYTES:
        raise ProfileError(f"'{filename}' is {len(data):,} bytes; a profile may be at most "
                           f"{MAX_BYTES:,} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProfileError(f"'{filename}' is not UTF-8 text ({error.reason} at byte "
                           f"{error.start}); export the profile again") from None
    if not text.strip():
        raise ProfileError(f"'{filename}' is empty. Upload a profile saved with this page's "
                           "download buttons.")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension == "json":
        entries, user, notes = _json_entries(text, filename, dataset)
    elif extension == "csv":
        entries, user, notes = _csv_entries(text, filename), {}, []
    else:
        raise ProfileError(f"'{filename}' must end in .json or .csv")
    ratings = _check_entries(entries, filename, dataset)
    user = _check_user(user, filename, dataset)
    # A JSON profile may contain only the fields about the person, which the New user page
    # saves before any rating is entered.
    if not ratings and not user:
        raise ProfileError(f"'{filename}' contains no ratings"
                           + (" and no fields about you" if extension == "json" else ""))
    return Profile(ratings, user, notes)


def _json_entries(text, filename, dataset):
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProfileError(f"'{filename}' is not valid JSON: {error.msg} at line "
                           f"{error.lineno}, column {error.colno}. Upload a profile saved "
                           "with this page's download buttons.") from None
    if not isinstance(document, dict) or "ratings" not in document:
        raise ProfileError(f"'{filename}' must be a JSON object with a \"ratings\" list, "
                           "as the dashboard exports it")
    if document.get("format", FORMAT) != FORMAT:
        raise ProfileError(f"'{filename}' has format {document.get('format')!r}, "
                           f"expected {FORMAT!r}")
    if document.get("version", VERSION) != VERSION:
        raise ProfileError(f"'{filename}' has profile version {document.get('version')!r}; "
                           f"this dashboard reads version {VERSION}")
    entries = document["ratings"]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ProfileError(f"\"ratings\" in '{filename}' must be a list of objects with "
                           "\"item_id\" and \"rating\"")
    user = document.get("user") or {}
    if not isinstance(user, dict):
        raise ProfileError(f"\"user\" in '{filename}' must be an object, got "
                           f"{type(user).__name__}")
    notes = []
    name = document.get("dataset")
    if name and name != dataset.name:
        notes.append(f"The profile was saved on {name!r}, not {dataset.name!r}; check "
                     "that its titles are the movies you meant.")
    numbered = [(f"entry {position}", entry) for position, entry in enumerate(entries, 1)]
    return numbered, user, notes


def _csv_entries(text, filename):
    reader = csv.DictReader(io.StringIO(text))
    columns = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in ("item_id", "rating") if name not in columns]
    if missing:
        raise ProfileError(f"'{filename}' lacks the column(s) {', '.join(missing)}; the "
                           "first row must name item_id and rating (title is optional)")
    reader.fieldnames = columns
    try:
        # line_num counts the header as line 1, so it is the row's line in the file.
        return [(f"line {reader.line_num}", row) for row in reader
                if any((value or "").strip() for value in row.values() if isinstance(value, str))]
    except csv.Error as error:
        raise ProfileError(f"'{filename}' is not valid CSV ({error}). Upload a profile "
                           "saved with this page's download buttons.") from None


def _check_entries(entries, filename, dataset) -> dict:
    titles = dataset.item_titles()
    originals = dataset.original_item_ids()
    by_original = {original: item for item, original in originals.items()}
    numeric_ids = all(_integer(original) is not None for original in by_original)
    low, high = dataset.rating_scale
    ratings, problems = {}, []
    for where, entry in entries:
        title = entry.get("title")
        title = title.strip() if isinstance(title, str) else ""
        item, problem = _item_of(entry.get("item_id"), title, titles, by_original, dataset,
                                 numeric_ids)
        rating = _number(entry.get("rating"))
        own_id = originals.get(item, item)
        if problem:
            problems.append(f"{where}: {problem}")
        elif item in ratings:
            problems.append(f"{where}: item {own_id} is rated more than once")
        elif title and title != titles[item]:
            problems.append(f"{where}: item {own_id} is {titles[item]!r} here, not "
                            f"{title!r}; the profile may come from other data")
        elif rating is None:
            problems.append(f"{where}: rating {entry.get('rating')!r} is not a number")
        elif not low <= rating <= high or not rating.is_integer():
            problems.append(f"{where}: rating {rating:g} is not a whole number of stars "
                            f"from {low:g} to {high:g}")
        else:
            ratings[item] = rating
    if problems:
        shown = "; ".join(problems[:MAX_LISTED])
        more = len(problems) - MAX_LISTED
        raise ProfileError(f"'{filename}' was not loaded: {shown}"
                           + (f"; and {more} more problem(s)" if more > 0 else ""))
    return ratings


def _item_of(value, title, titles, by_original, dataset, numeric_ids):
    """Return ``(item_id, None)`` for a profile's ``item_id`` value, or ``(None, problem)``.

    The value may be the dataset's own id or, as in older profiles, metarec's internal
    number. When it is both, for two items, the entry's title decides. ``numeric_ids``
    is True when every own id of the dataset is an integer.
    """
    if value is None or isinstance(value, (bool, list, dict)):
        return None, f"item_id {value!r} is missing or not an id"
    whole = isinstance(value, float) and value.is_integer()
    text = str(int(value) if whole else value).strip()
    candidates = []
    if text in by_original:
        candidates.append(by_original[text])
    number = _integer(value)
    if number is not None and number in titles and number not in candidates:
        candidates.append(number)
    if len(candidates) > 1 and title:
        candidates = [item for item in candidates if titles[item] == title] or candidates
    if not candidates and number is None and numeric_ids:
        return None, f"item_id {value!r} is not an integer"
    if not candidates:
        return None, f"item {text} is not in the catalogue of {dataset.name!r}"
    if len(candidates) > 1:
        first, second = candidates
        return None, (f"item_id {text} is the id of {titles[first]!r} but also the "
                      f"internal number of {titles[second]!r}; add the title column to "
                      "tell them apart")
    return candidates[0], None


def _integer(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _number(value):
    if isinstance(value, bool):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _check_user(user, filename, dataset) -> dict:
    unknown = sorted(set(user) - set(USER_FIELDS))
    if unknown:
        raise ProfileError(f"\"user\" in '{filename}' has unknown fields {unknown}; "
                           f"allowed: {list(USER_FIELDS)}")
    checked = {}

    age = user.get("age")
    if age is not None:
        number = _integer(age)
        if number is None or not 1 <= number <= 120:
            raise ProfileError(f"age {age!r} in '{filename}' must be a whole number "
                               "from 1 to 120")
        checked["age"] = number

    gender = user.get("gender")
    if gender not in (None, ""):
        if str(gender).upper() not in ("F", "M"):
            raise ProfileError(f"gender {gender!r} in '{filename}' must be 'F' or 'M'")
        checked["gender"] = str(gender).upper()

    occupation = user.get("occupation")
    if occupation not in (None, ""):
        if occupation not in dataset.occupations:
            raise ProfileError(f"occupation {occupation!r} in '{filename}' is not one of "
                               f"{', '.join(dataset.occupations)}")
        checked["occupation"] = occupation

    zip_code = user.get("zip_code")
    if zip_code not in (None, ""):
        if not isinstance(zip_code, (str, int)) or len(str(zip_code)) > 10:
            raise ProfileError(f"zip_code {zip_code!r} in '{filename}' must be text of at "
                               "most 10 characters")
        checked["zip_code"] = str(zip_code).strip()
    return checked
