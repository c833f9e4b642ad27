"""MkDocs hook: render each tutorial script (jupytext percent format) as a page of the documentation site.

The tutorials are plain Python scripts so that CI can execute them (tests/docs/test_tutorials.py) and a reader can
run them with `python docs/tutorials/NAME.py`; this hook turns `docs/tutorials/NAME.py` into the page
`tutorials/NAME.md` at build time (markdown cells as text, code cells as Python blocks), so the page and the tested
script never drift apart. Nothing is written into docs/; the script itself is published next to its page.
"""

from __future__ import annotations

from mkdocs.structure.files import File, Files

TUTORIALS = "tutorials/"


def render(script: str, name: str) -> str:
    """Return the markdown page of one percent-format tutorial script, with a link to download and run it."""
    import jupytext

    notebook = jupytext.reads(script, fmt="py:percent")
    page = jupytext.writes(notebook, fmt={"extension": ".md", "notebook_metadata_filter": "-all"})  # no header
    note = (
        f'\n\n!!! note "Run this tutorial"\n    This page is the script [`{name}`]({name}) '
        f"(`docs/tutorials/{name}` in the repository), executed by CI. Run it from the repository root with "
        f"`.venv/bin/python docs/tutorials/{name}`.\n"
    )
    title, _, rest = page.partition("\n")  # the note goes right under the page title
    return title + note + rest


def on_files(files: Files, config) -> Files:
    """Add a generated page for every `tutorials/*.py` script (those starting with `_` are build helpers)."""
    for script in list(files):
        uri = script.src_uri
        if not (uri.startswith(TUTORIALS) and uri.endswith(".py")) or uri.count("/") != 1:
            continue
        name = uri.removeprefix(TUTORIALS)
        if name.startswith("_"):
            continue
        text = render(script.content_string, name)
        files.append(File.generated(config, uri[: -len(".py")] + ".md", content=text))
    return files
