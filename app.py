"""metarec dashboard: the entry point that lists the pages in the sidebar.

Run it with ``streamlit run app.py``. Every ``pages/*.py`` script becomes one page,
in file-name order and titled from the file name (``1_New_user.py`` is "New user"), and
``pages/0_Home.py`` opens first.
"""

from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent / "pages"
HOME = PAGES_DIR / "0_Home.py"

st.set_page_config(page_title="metarec", layout="wide")


def page_order(path: Path):
    """Sort key: the number before the first underscore, then the name."""
    number, _, _ = path.stem.partition("_")
    return (int(number) if number.isdigit() else float("inf"), path.name)


pages = [st.Page(path, default=path == HOME)
         for path in sorted(PAGES_DIR.glob("*.py"), key=page_order)]
st.navigation(pages).run()
