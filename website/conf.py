"""Sphinx configuration of the course website; `make site` (tools/build_site.py) copies it beside the notebooks."""
project = "From One-Hot to GPT"
author = "the course's authors"
copyright = "the course's authors; data and font licences in course_lib/data/SOURCES.md"
extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "off"            # the stored outputs, as recorded by `make execute`
nb_output_stderr = "show"
# A stored widget (progress bar, attention explorer) would need ipywidgets' JavaScript from a CDN; every one
# of ours also holds a picture or a plain-text line, which the site shows instead.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
html_theme = "furo"
html_title = "From One-Hot to GPT"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_show_sourcelink = False
html_copy_source = False
mathjax_path = "mathjax/tex-svg.js"  # a local copy: the site works offline, opened from disk
mathjax3_config = {"options": {"enableMenu": False}, "loader": {"load": []}}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type"]
