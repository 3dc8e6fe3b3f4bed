"""Sphinx configuration of the aiida-gaprss documentation (built with warnings as errors)."""

project = 'aiida-gaprss'
author = 'The aiida-gaprss developers'
copyright = '2026, The aiida-gaprss developers'  # noqa: A001

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.mathjax',
    'sphinx_click',
]
source_suffix = {'.md': 'markdown', '.rst': 'restructuredtext'}
myst_enable_extensions = ['dollarmath', 'colon_fence']
myst_heading_anchors = 3
exclude_patterns = ['build', '_build']
html_theme = 'furo'
html_title = 'aiida-gaprss'
autodoc_mock_imports = []
autodoc_typehints = 'description'
napoleon_numpy_docstring = True
napoleon_google_docstring = False
nitpicky = False
suppress_warnings = ['myst.header']
