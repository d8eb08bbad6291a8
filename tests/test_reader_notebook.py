"""Protects the downloaded notebook as a reader meets it (issue 22): its Markdown reads like the page
(no MyST role, directive or target left, every glued number written in, the code of every
``literalinclude`` there, references as text or as links into the hosted book, exercises quoted and
solutions folded in ``<details>``), its hidden guard cells are still there to run, and its first
cell installs the book's package from the repository at the commit that built it, or says how to
install it from a clone. The reference is the built HTML page, not the converter's own output."""

import functools
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from bookbuild.notebook import split_cells
from conftest import ROOT, small_book, sphinx_build

ROLE = re.compile(r"\{[a-z][\w:-]*\}`")  # {glue:text}`x`, {term}`...`, {cite:t}`...`
DIRECTIVE = re.compile(
    r"^[ \t]*(?:>[ \t]*)*(?:`{3,}|:{3,})[ \t]*\{", re.MULTILINE
)  # ```{note}, :::{tip}
TARGET = re.compile(r"^\(\s*[\w.-]+\s*\)=\s*$", re.MULTILINE)  # (label)=


def markdown_text(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def myst_left(text: str) -> list[str]:
    """Every piece of MyST syntax in ``text``: roles, directives, targets."""
    return [m[0] for pattern in (ROLE, DIRECTIVE, TARGET) for m in pattern.finditer(text)]


def code_of(text: str) -> str:
    """Code compared line by line, without trailing spaces."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def assert_reads_like_page(page_html: str, nb, source: str) -> None:
    """The notebook ``nb`` against its built page and its lesson's MyST ``source``."""
    page = BeautifulSoup(page_html, "html.parser")
    text = markdown_text(nb)
    assert not myst_left(text), myst_left(text)[:10]
    glued = {span.get_text() for span in page.select("span.pasted-text")}
    missing = sorted(value for value in glued if value not in text)
    assert not missing, f"glued values not in the notebook's text: {missing}"
    code_text = code_of(text)
    for block in page.select("div.literal-block-wrapper div.highlight pre"):
        assert code_of(block.get_text()) in code_text, block.get_text()[:200]
    # every code cell of the lesson, hidden ones included, runs in the notebook, in order
    cells = [c.source for c in nb.cells if c.cell_type == "code"][1:]  # after the install cell
    blocks = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)\n```", source, re.DOTALL)
    bodies = [
        re.sub(r"\A(?:---\n.*?\n---\n|(?::[^\n]*\n)+\n?)", "", b, flags=re.DOTALL) for b in blocks
    ]
    assert [code_of(c) for c in cells] == [code_of(b) for b in bodies]


# -- the pure parts -------------------------------------------------------------------------------
def test_a_code_cell_inside_a_solution_keeps_the_solution_folded():
    text = (
        "Intro.\n\n<details>\n<summary>Solution to Exercise 2.1</summary>\n\nProse.\n\n"
        "<!--bookbuild-cell:4-->\n\nMore prose.\n\n</details>\n\n## Key points\n"
    )
    first, cell, second = split_cells(text)
    assert cell == 4
    assert first.endswith("Prose.\n\n</details>") and first.count("<details>") == 1
    assert second.startswith("<details>\n<summary>Solution to Exercise 2.1 (continued)</summary>")
    assert second.count("<details>") == second.count("</details>") == 1


def test_cells_in_a_row_leave_no_empty_markdown_cell():
    assert split_cells("A.\n\n<!--bookbuild-cell:1-->\n\n<!--bookbuild-cell:2-->\n\nB.") == [
        "A.",
        1,
        2,
        "B.",
    ]


def test_myst_syntax_is_found():
    found = myst_left("a {glue:text}`x:.3g`\n\n```{note}\nhi\n```\n\n(sec-a)=\n## A\n> :::{tip}\n")
    assert found == ["{glue:text}`", "```{", "> :::{", "(sec-a)="]
    assert not myst_left("a dict {'a': 1} and `code`, and ```python\nx\n```")


# -- a small book -----------------------------------------------------------------------------------
CHAPTER = """---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
---

(my-chapter)=
# A chapter

:::{admonition} In this chapter
:class: tip

- a {term}`shortcut <Shortcut connection>` and $x^2$ with a cost below $5;
- about **20** minutes.
:::

Highway networks {cite:p}`srivastava2015highway` and {cite:t}`he2016deep`, see {doc}`other` and
{ref}`my-sec`.

$$
h_{l} = h_{l-1} + F_l(h_{l-1}).
$$

```{literalinclude} ../code/gradflow/mlp.py
:caption: code/gradflow/mlp.py
:pyobject: ShortcutMLP
```

```{code-cell} ipython3
from gradflow.display import glue
value = 2.5 * 3
glue("val", value, display=False)
```

```{code-cell} ipython3
:tags: [remove-cell]

from gradflow.claims import claim
claim("value is big", value, "> 1")
```

(my-sec)=
## A section

The value is {glue:text}`val:.3g` and {numref}`fig-x` shows it.

```{code-cell} ipython3
---
mystnb:
  figure:
    caption: A figure of {glue:text}`val:.1f`.
    name: fig-x
---
import matplotlib.pyplot as plt
fig, ax = plt.subplots(); ax.plot([1, 2]); plt.close(fig); fig
```

:::{note}
A note with `code`.
:::

```{exercise}
:label: ex-one

Do *this*: `layer_sizes = [3] * 20`.
```

```{solution-start} ex-one
:class: dropdown
```

Prediction: it fades.

```{code-cell} ipython3
more = value * 2
glue("more", more, display=False)
```

It is {glue:text}`more:.2f`.

```{solution-end}
```

## Key points

- A point: {glue:text}`val`.
"""
GLOSSARY = (
    "# Terms\n\n```{glossary}\nShortcut connection\n  A path that adds input to output.\n```\n"
)


@functools.cache
def build_small_book(kind: str, tmp: Path) -> tuple[str, Path, nbformat.NotebookNode]:
    """The small book built without the book's address and repository ("local"), or with them
    ("hosted"): once per kind and test process, whatever order the tests run in."""
    import os
    import shutil

    src = small_book(
        tmp / "src",
        {"chapter": CHAPTER, "other": "# Other page\n\nText.\n", "terms": GLOSSARY},
    )
    shutil.copytree(ROOT / "code" / "gradflow", src / "code" / "gradflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOK_", "GITHUB_"))}
    if kind == "hosted":
        env |= {
            "BOOK_URL": "https://example.org/book/",
            "BOOK_REPOSITORY_URL": "https://github.com/someone/shortcuts",
            "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        }
    result = sphinx_build(src, tmp / "out" / "html", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = tmp / "out" / "html"
    nb = nbformat.read(html / "lessons" / "chapter.ipynb", as_version=4)
    return kind, html, nb


@pytest.fixture(params=["local", "hosted"])
def built(request, tmp_path_factory):
    """The small book of ``build_small_book``, local and hosted."""
    kind = request.param
    return build_small_book(kind, tmp_path_factory.getbasetemp() / f"small-book-{kind}")


@pytest.mark.build
def test_small_book_notebook_reads_like_its_page(built):
    kind, html, nb = built
    nbformat.validate(nb)
    page = (html / "lessons" / "chapter.html").read_text(encoding="utf-8")
    assert_reads_like_page(page, nb, CHAPTER)
    text = markdown_text(nb)
    assert "# A chapter" in text and "## A section" in text
    assert "> **In this chapter**" in text and "> **Note**" in text
    assert r"below \$5" in text  # a dollar of the text is no math
    assert "$x^2$" in text and "$$\nh_{l} = h_{l-1} + F_l(h_{l-1}).\n$$" in text
    assert "**Fig. 1** A figure of 7.5." in text  # the figure's caption, glued value written in
    assert "> **Exercise 1**" in text
    assert text.count("<details>") == text.count("</details>") == 2  # cut by the solution's cell
    assert "<summary>Solution to Exercise 1</summary>" in text
    hidden = [c for c in nb.cells if "remove-cell" in c.metadata.get("tags", [])]
    assert len(hidden) == 1 and "claim(" in hidden[0].source
    assert hidden[0].metadata["jupyter"]["source_hidden"]  # folded, as the page hides it
    # no MyST form of a table or anything else in the outputs the reader sees
    assert "bookbuild_line" not in str(nb) and "source_map" not in nb.metadata
    if kind == "local":  # references are plain text: no link to a server that is not there
        assert "Highway networks [Srivastava *et al.*, 2015]" in text
        assert "a shortcut and" in text and "see Other page and A section." in " ".join(
            text.split()
        )
        assert "](" not in text.replace("](https://", "")
        assert "127.0.0.1" not in text
    else:  # links into the hosted book
        base = "https://example.org/book/"
        assert f"[shortcut]({base}lessons/terms.html#term-Shortcut-connection)" in text
        assert f"[Other page]({base}lessons/other.html)" in text
        assert f"[A section]({base}lessons/chapter.html#my-sec)" in text
        assert f"({base}docs/references.html#" in text


@pytest.mark.build
def test_first_cell_installs_the_package(built):
    import tomllib

    kind, _, nb = built
    first = nb.cells[0]
    assert first.cell_type == "code" and first.metadata["tags"] == ["install"]
    name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    installs = [line for line in first.source.splitlines() if not line.startswith("#")]
    if kind == "local":  # no repository: says how to install from a clone, installs nothing
        assert installs == [] and "python -m pip install -e ." in first.source
    else:  # one line, from the repository at the commit that built the page
        sha = "0123456789abcdef0123456789abcdef01234567"
        url = "git+https://github.com/someone/shortcuts"
        assert installs == [f'%pip install --quiet "{name} @ {url}@{sha}"']
    assert "pip install gradflow" not in first.source  # PyPI's gradflow is another project


# -- the book's own chapters ------------------------------------------------------------------------
LESSONS = sorted(p.stem for p in (ROOT / "lessons").glob("*.md"))


@pytest.mark.site
@pytest.mark.parametrize("lesson", LESSONS)
def test_every_chapter_notebook_reads_like_its_page(site, lesson):
    nb = nbformat.read(site / "lessons" / f"{lesson}.ipynb", as_version=4)
    page = (site / "lessons" / f"{lesson}.html").read_text(encoding="utf-8")
    source = (ROOT / "lessons" / f"{lesson}.md").read_text(encoding="utf-8")
    assert_reads_like_page(page, nb, source)
    text = markdown_text(nb)
    exercises = source.count("```{exercise}")
    assert text.count("> **Exercise ") == exercises
    assert text.count("<details>") == text.count("</details>") >= source.count("{solution-start}")


# -- launch buttons ---------------------------------------------------------------------------------
def test_launch_links_open_the_notebooks_branch_on_github_only():
    from bookbuild.downloads import launch_links

    links = launch_links("https://github.com/someone/shortcuts", "lessons/chapter")
    assert links == {
        "Colab": "https://colab.research.google.com/github/someone/shortcuts/blob/notebooks/lessons/chapter.ipynb",
        "Binder": "https://mybinder.org/v2/gh/someone/shortcuts/notebooks?labpath=lessons/chapter.ipynb",
    }
    assert launch_links("", "lessons/chapter") == {}
    assert launch_links("https://gitlab.com/someone/shortcuts", "lessons/chapter") == {}


@pytest.mark.build
def test_launch_buttons_only_with_the_repository_setting(built):
    kind, html, _ = built
    page = BeautifulSoup(
        (html / "lessons" / "chapter.html").read_text(encoding="utf-8"), "html.parser"
    )
    menu = page.select_one(".dropdown-launch-buttons")
    other = (html / "lessons" / "other.html").read_text(encoding="utf-8")
    assert "dropdown-launch-buttons" not in other  # pages that are no notebook: none
    if kind == "local":
        assert menu is None and "/issues/new" not in str(page)
    else:
        hrefs = [a["href"] for a in menu.select("a[href]")]
        assert [h.split("/")[2] for h in hrefs] == ["colab.research.google.com", "mybinder.org"]
        assert "https://github.com/someone/shortcuts/issues/new" in str(page), "no issue button"
    footer = page.select_one('footer a[rel="license"]')  # the licence, on every page
    assert footer is not None and footer.get_text() == "CC BY 4.0"


# -- a reader's fresh environment -----------------------------------------------------------------
SHORT = """---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
---

# A short chapter

```{code-cell} ipython3
import torch
from gradflow.display import glue
from gradflow.gradients import gradient_profile
from gradflow.mlp import ShortcutMLP

torch.manual_seed(123)
model = ShortcutMLP([3, 3, 1], use_shortcut=True)
grads = gradient_profile(model, torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]]))
glue("first", grads[0], display=False)
```

```{code-cell} ipython3
:tags: [remove-cell]

from gradflow.claims import claim
claim("the first layer gets a gradient", grads[0], "> 0")
```

The first layer's mean gradient is {glue:text}`first:.3g`.
"""


@pytest.mark.build
def test_first_cell_installs_the_package_in_a_fresh_environment(tmp_path, monkeypatch):
    """A virtual environment with nothing but Jupyter's kernel and the pinned torch wheel: the
    notebook's own first cell installs the package from the repository (this clone, at its HEAD)
    and every cell runs, the hidden claim included, with gradflow from that install."""
    import json
    import os
    import subprocess
    import sys

    from nbclient import NotebookClient

    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    src = small_book(tmp_path / "src", {"chapter": SHORT})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOK_", "GITHUB_"))}
    # as the workflow sets them (file://localhost/...: the pip a fresh venv brings, 23.2, reads
    # git+file:///... as no URL)
    env |= {"BOOK_REPOSITORY_URL": f"file://localhost{ROOT}", "GITHUB_SHA": sha}
    result = sphinx_build(src, tmp_path / "out" / "html", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    nb = nbformat.read(tmp_path / "out" / "html" / "lessons" / "chapter.ipynb", as_version=4)
    assert f'@ git+file://localhost{ROOT}@{sha}"' in nb.cells[0].source

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    constraints = ROOT / ".ci" / "constraints.txt"
    pip = [str(python), "-m", "pip", "install", "--quiet", "-c", str(constraints)]
    subprocess.run([*pip, "ipykernel", "torch"], check=True)
    kernels = tmp_path / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "fresh", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)  # nothing of this checkout on the kernel's path
    where = "import gradflow\nprint(gradflow.__file__)"
    nb.cells.append(nbformat.v4.new_code_cell(where))
    work = tmp_path / "reader"
    work.mkdir()
    NotebookClient(
        nb, timeout=1200, kernel_name="fresh", resources={"metadata": {"path": str(work)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert printed.startswith(str(venv)), printed  # the installed package, not this checkout
