"""Helpers shared by the Streamlit dashboard pages (``app.py`` and ``pages/``).

``state`` contains the cached loaders and the data choice, ``personas`` the preset
profiles, ``compare`` the adaptation of every chosen variant, ``manifest`` the tables of
a models directory and ``charts`` the plotly figures. Pages only draw widgets and call
these.
"""
