"""Helpers shared by the Streamlit dashboard pages (``app.py`` and ``pages/``).

``state`` holds the cached loaders and the data choice, ``personas`` the preset
profiles, ``compare`` the adaptation of every chosen variant and ``charts`` the plotly
figures. Pages only draw widgets and call these.
"""
