"""The PDF edition: Sphinx's LaTeX builder on the site's configuration, doctrees and execution
cache (so building it after the site executes no lesson again), then latexmk.

``python -m bookbuild.pdf`` (what ``nox -s pdf`` runs) writes ``_build/pdf/shortcut-connections.pdf``
and copies it into ``_build/html/``, where the landing page links to it. It is strict like the site:
a Sphinx warning, a LaTeX error or a line of code that runs into the margin fails it.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

NAME = "shortcut-connections"  # the .tex and .pdf files (latex_documents in conf.py)
ROOT = Path(__file__).resolve().parents[2]  # the repository: code/bookbuild/pdf.py
# TeX stops at the first error instead of asking the (absent) terminal what to do
LATEXOPTS = "-interaction=nonstopmode -halt-on-error -file-line-error"
OVERFULL = re.compile(
    r"^Overfull \\hbox \(([\d.]+)pt too wide\) "
    r"(?:in paragraph at lines (\d+)--(\d+)|detected at line (\d+))",
    re.MULTILINE,
)


def sphinx_options(root: Path = ROOT) -> list[str]:
    """The site's strict options ([tool.book] in pyproject.toml) with the LaTeX builder."""
    options = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["book"]["sphinx-options"]
    i = options.index("-b")
    return [*options[:i], "-b", "latex", *options[i + 2 :]]


def overfull_code(tex: Path, log: Path) -> list[str]:
    """The overfull lines that LaTeX's log reports inside a code block of ``tex``."""
    in_code, inside = [False], False
    for line in tex.read_text(encoding="utf-8").splitlines():
        inside = inside or line.startswith(r"\begin{sphinxVerbatim")
        in_code.append(inside)
        inside = inside and not line.startswith(r"\end{sphinxVerbatim")
    lines = tex.read_text(encoding="utf-8").splitlines()
    found = []
    for match in OVERFULL.finditer(log.read_text(encoding="utf-8", errors="replace")):
        first = int(match[2] or match[4])
        last = int(match[3] or match[4])
        if any(in_code[k] for k in range(first, min(last, len(in_code) - 1) + 1)):
            code = lines[first - 1].strip() if first <= len(lines) else ""
            found.append(f"{tex.name}:{first}: {match[1]}pt too wide: {code[:100]}")
    return found


def source_date(root: Path = ROOT) -> dict[str, str]:
    """SOURCE_DATE_EPOCH, unless set: the last commit's time. It dates the title page, and Sphinx,
    XeTeX and xdvipdfmx then write the same PDF for the same commit."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return {}
    git = ["git", "log", "-1", "--format=%ct"]
    result = subprocess.run(git, cwd=root, capture_output=True, text=True)
    stamp = result.stdout.strip()
    return {"SOURCE_DATE_EPOCH": stamp, "FORCE_SOURCE_DATE": "1"} if stamp.isdigit() else {}


def build(builddir: Path, root: Path = ROOT) -> Path:
    """Build the PDF into ``builddir/pdf`` from ``builddir/doctrees``, copy it into
    ``builddir/html`` if the site is there, and return its path; raise if anything failed.

    The LaTeX output sits beside the site's because MyST-NB keeps the executed outputs (figures,
    glued values) in the build folder's ``jupyter_execute``, found from the output folder.
    """
    outdir, doctrees, html = builddir / "pdf", builddir / "doctrees", builddir / "html"
    env = {**os.environ, **source_date(root), "LATEXOPTS": LATEXOPTS}
    cmd = [sys.executable, "-m", "sphinx", *sphinx_options(root), str(root), str(outdir)]
    subprocess.run([*cmd, "-d", str(doctrees)], cwd=root, env=env, check=True)
    # latexmk reads the latexmkrc Sphinx wrote beside the .tex (the engine, xelatex, is set there)
    latexmk = ["latexmk", "-pdf", "-dvi-", "-ps-", "-silent", f"{NAME}.tex"]
    result = subprocess.run(latexmk, cwd=outdir, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"LaTeX failed, see {outdir / (NAME + '.log')}:\n{result.stdout[-3000:]}"
        )
    overfull = overfull_code(outdir / f"{NAME}.tex", outdir / f"{NAME}.log")
    if overfull:
        raise RuntimeError("code runs off the page:\n" + "\n".join(overfull))
    pdf = outdir / f"{NAME}.pdf"
    if html.is_dir():
        shutil.copy2(pdf, html / pdf.name)
    return pdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builddir", type=Path, default=ROOT / "_build", help="default: _build")
    args = parser.parse_args()
    try:
        pdf = build(args.builddir.resolve())
    except (RuntimeError, subprocess.CalledProcessError) as error:
        sys.exit(str(error))
    copied = (args.builddir / "html" / pdf.name).is_file()
    print(
        f"Wrote {pdf} ({pdf.stat().st_size / 1e6:.1f} MB)"
        + (", copied into the site" if copied else "")
    )


if __name__ == "__main__":
    main()
