"""Helpers shared by the Streamlit dashboard pages (``app.py`` and ``pages/``).

``state`` contains the cached loaders and the data choice, ``profile`` and
``profile_io`` the widgets and files that hold a new user's ratings and demographics,
``personas`` the preset profiles, ``compare`` the adaptation of every chosen variant,
``explain`` why a variant recommends an item, ``views`` the drawing of adapted
variants, ``session`` and ``session_view`` the Dynamic session page, ``results`` and
``results_view`` the Model comparison page, ``manifest`` the tables of a models
directory, and ``charts`` and ``evaluation_charts`` the plotly figures. Pages draw
widgets and call these.
"""


def _use_navigation_only():
    # Streamlit (checked on 1.67) treats an app with a pages/ folder as an old-style
    # multipage app until the entry point has called st.navigation once in the server
    # process. A first visitor who opens a page's URL directly would then get the
    # folder's page list, with the entry point listed as "app". Every page imports this
    # package, so clearing the flag here makes later runs use app.py's navigation.
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False


_use_navigation_only()
