"""metarec: meta-learned recommenders for users and items with only a few ratings."""

import logging

__version__ = "0.1.0"

logger = logging.getLogger("metarec")
logger.addHandler(logging.NullHandler())
