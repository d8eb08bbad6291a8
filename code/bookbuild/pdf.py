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


def build(
    outdir: Path, doctrees: Path, html: Path | None = None, root: Path = ROOT
) -> subprocess.CompletedProcess:
    """Build the PDF into ``outdir`` (copied into ``html`` if given); raise if anything failed."""
    cmd = [sys.executable, "-m", "sphinx", *sphinx_options(root), str(root), str(outdir)]
    subprocess.run([*cmd, "-d", str(doctrees)], cwd=root, check=True)
    env = {**os.environ, "LATEXOPTS": LATEXOPTS}
    # latexmk reads the latexmkrc Sphinx wrote beside the .tex (the engine, xelatex, is set there)
    latexmk = ["latexmk", "-pdf", "-dvi-", "-ps-", "-silent", f"{NAME}.tex"]
    result = subprocess.run(latexmk, cwd=outdir, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"LaTeX failed, see {outdir / (NAME + '.log')}:\n{result.stdout[-3000:]}")
    overfull = overfull_code(outdir / f"{NAME}.tex", outdir / f"{NAME}.log")
    if overfull:
        raise RuntimeError("code runs off the page:\n" + "\n".join(overfull))
    if html is not None:
        shutil.copy2(outdir / f"{NAME}.pdf", html / f"{NAME}.pdf")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=ROOT / "_build" / "pdf")
    parser.add_argument("--doctrees", type=Path, default=ROOT / "_build" / "doctrees")
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    args = parser.parse_args()
    html = args.html if args.html.is_dir() else None
    try:
        build(args.outdir, args.doctrees, html)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        sys.exit(str(error))
    pdf = args.outdir / f"{NAME}.pdf"
    print(f"Wrote {pdf} ({pdf.stat().st_size / 1e6:.1f} MB)" + (f", copied into {html}" if html else ""))


if __name__ == "__main__":
    main()
