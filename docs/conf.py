"""Sphinx configuration of seglosses' API reference, built from the docstrings of the installed package.

Build: ``pip install ".[docs]"`` then ``sphinx-build -W -b html docs docs/_build/html`` (warnings are errors in CI).
"""

import seglosses

project = "seglosses"
author = "the seglosses developers"
copyright = "2026, the seglosses developers"
release = seglosses.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
exclude_patterns = ["_build"]
# seglosses.nnunet is documented without nnU-Net installed (the docs build in the main environment).
autodoc_mock_imports = ["nnunetv2", "batchgeneratorsv2"]
html_theme = "alabaster"
html_title = f"seglosses {release}"


# The docstrings are written for `help()` as much as for Sphinx: shapes such as (B, C, *spatial), **settings and
# |b_k(G) - b_k(P)| are plain text there. Outside ``literals``, their stars and bars are escaped here so that
# reStructuredText does not read them as emphasis or substitutions.
import re  # noqa: E402

_STARS = re.compile(r"(?<![\\*\w])(\*{1,2})(?=\w)(?!\w*\*)")
_BARS = re.compile(r"\|(?=[^|\s][^|]*\|)([^|]*)\|")


def _escape(line: str) -> str:
    parts = line.split("``")
    for i in range(0, len(parts), 2):  # the even parts lie outside double-backtick literals
        if ":math:`" in parts[i] or parts[i].lstrip().startswith(".."):
            continue
        parts[i] = _STARS.sub(lambda m: "\\*" * len(m.group(1)), parts[i])
        parts[i] = _BARS.sub(lambda m: f"\\|{m.group(1)}\\|", parts[i])
    return "``".join(parts)


def _process(app, what, name, obj, options, lines):
    lines[:] = [_escape(line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _process)
