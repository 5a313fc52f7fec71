"""Sphinx configuration for sklearn-debias."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import sklearn_debias

project = "sklearn-debias"
author = "The sklearn-debias developers"
release = sklearn_debias.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
numpydoc_show_class_members = False
# The numpydoc docstrings carry the types; the annotations serve type checkers.
autodoc_typehints = "none"
exclude_patterns = ["_build", "auto_examples/*.ipynb"]
html_theme = "alabaster"


sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    # Building the docs runs every example; set SKLEARN_DEBIAS_GALLERY=0 to skip.
    "plot_gallery": os.environ.get("SKLEARN_DEBIAS_GALLERY", "1") != "0",
}
