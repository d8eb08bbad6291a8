"""Benchmark: Lighthouse scores and page weight of the built site, as a phone and a desktop see it.

Serves `_build/html` gzipped on 127.0.0.1 (as GitHub Pages serves it), runs Lighthouse in Debian's
Chromium with its mobile preset (slow 4G, a mid-range phone's CPU) and its desktop preset on the
landing page and every chapter, and prints one row per page and preset: the four category scores,
bytes transferred, cumulative layout shift, total blocking time, largest contentful paint and the
number of requests that left the machine. Targets (issue 9): performance >= 90 mobile and >= 98
desktop; accessibility, best practices and SEO 100; <= 600 KB per page; CLS < 0.05; no request to
another host.

    nox -s webperf                       # build the site first with `nox -s docs`
    nox -s webperf -- --pages docs/index.html --reports _build/webperf/reports
"""

import argparse
import functools
import gzip
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
TOOLS = ROOT / "_build" / "webperf"  # Lighthouse from npm, installed on first use
LIGHTHOUSE = "lighthouse@12.8.2"
CHROME_FLAGS = [
    "--headless=new",
    *tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["book"]["chromium-flags"],
]
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
COMPRESSIBLE = (".html", ".css", ".js", ".svg", ".json", ".xml", ".txt", ".map")


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Serve files, gzipped when the client accepts it and the type compresses (as Pages does)."""

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepts and path.is_file() and path.suffix in COMPRESSIBLE):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return _Body(body)

    def log_message(self, *args):
        pass


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, *args) -> bytes:
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


def lighthouse() -> list[str]:
    """The Lighthouse command, installed into _build/webperf from npm where it is missing."""
    binary = TOOLS / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        if shutil.which("npm") is None:
            sys.exit("webperf needs Node.js and npm (apt-get install nodejs npm)")
        TOOLS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-fund", "--no-audit", "--prefix", str(TOOLS), LIGHTHOUSE],
            check=True,
        )
    return [str(binary)]


def audit(url: str, preset: str, chromium: str, keep: Path | None = None) -> dict:
    """Run Lighthouse once and return the figures of one row (keeping its report in ``keep``)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [*lighthouse(), url, "--quiet", "--output=json", f"--output-path={report}"]
        cmd += [f"--chrome-flags={' '.join(CHROME_FLAGS + [f'--user-data-dir={tmp}/profile'])}"]
        if preset == "desktop":
            cmd.append("--preset=desktop")
        env = {**os.environ, "CHROME_PATH": chromium}
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        data = json.loads(report.read_text())
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            name = urlparse(url).path.strip("/").replace("/", "_").removesuffix(".html")
            shutil.copy(report, keep / f"{name}-{preset}.json")
    audits, categories = data["audits"], data["categories"]
    requests = audits["network-requests"]["details"]["items"]
    hosts = {urlparse(r["url"]).hostname for r in requests if r["url"].startswith("http")}
    return {
        "scores": [round(100 * categories[c]["score"]) for c in CATEGORIES],
        "kb": sum(r.get("transferSize", 0) for r in requests) / 1024,
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "tbt": audits["total-blocking-time"]["numericValue"],
        "lcp": audits["largest-contentful-paint"]["numericValue"] / 1000,
        "off_host": len(hosts - {"127.0.0.1"}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pages", nargs="+", help="pages, relative to the site (default: landing page, chapters)"
    )
    parser.add_argument("--site", type=Path, default=SITE, help="the built site")
    parser.add_argument(
        "--reports", type=Path, help="keep Lighthouse's JSON reports in this folder"
    )
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("webperf needs Chromium: apt-get install chromium")
    if not (args.site / "index.html").is_file():
        sys.exit(f"no built site in {args.site}: run `nox -s docs` first")
    pages = args.pages or [
        "docs/index.html",
        *sorted(p.relative_to(args.site).as_posix() for p in args.site.glob("lessons/*.html")),
    ]
    handler = functools.partial(GzipHandler, directory=str(args.site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    head = f"{'page':<36} {'preset':<8} {'perf':>4} {'a11y':>4} {'bp':>4} {'seo':>4}"
    print(f"{head} {'KB':>6} {'CLS':>6} {'TBT ms':>7} {'LCP s':>6} {'off-host':>8}")
    for page in pages:
        for preset in ("mobile", "desktop"):
            row = audit(f"{base}/{page}", preset, chromium, args.reports)
            perf, a11y, bp, seo = row["scores"]
            print(
                f"{page:<36} {preset:<8} {perf:>4} {a11y:>4} {bp:>4} {seo:>4} {row['kb']:>6.0f}"
                f" {row['cls']:>6.3f} {row['tbt']:>7.0f} {row['lcp']:>6.2f} {row['off_host']:>8}",
                flush=True,
            )
    httpd.shutdown()


if __name__ == "__main__":
    main()
