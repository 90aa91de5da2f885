"""Helpers shared by the Streamlit dashboard pages (``app.py`` and ``pages/``).

``state`` contains the cached loaders and the data choice, ``profile`` the widgets that
collect a new user's ratings and demographics, ``personas`` the preset profiles,
``compare`` the adaptation of every chosen variant, ``manifest`` the tables of a models
directory and ``charts`` the plotly figures. Pages draw widgets and call these.
"""
