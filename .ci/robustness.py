"""Robustness check: do the book's claims hold on other machines and with other seeds?

Every lesson runs as a plain script (no Sphinx, no kernel) once per variant. A variant changes what
another reader's build could change: another ATen kernel path (``ATEN_CPU_CAPABILITY=default``, the
plainest vector code), another MKL code path (``MKL_CBWR=COMPATIBLE``), another torch thread count
(``GRADFLOW_THREADS=2``) and every seed of the package shifted (``GRADFLOW_SEED_OFFSET``; a published
seed that a lesson gives ``torch.manual_seed`` itself stays). Each claim's record
(``gradflow.claims``) is collected without stopping at the first failure, and one table prints every
claim by variant with its value and margin (how far inside its rule, relative to the rule's edge).
The check fails if any claim fails, or a lesson raises, in any variant.

    nox -s robustness                               # every variant, every lesson
    nox -s robustness -- --variants kernel-path     # what CI runs on every submission
    nox -s robustness -- --lessons shortcut_connections --variants build,seeds+100
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import lesson_script  # the lesson's code cells as one script (.ci/bench.py)

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "build": {},  # as the book builds here
    "kernel-path": {"ATEN_CPU_CAPABILITY": "default"},
    "mkl-path": {"MKL_CBWR": "COMPATIBLE"},
    "threads-2": {"GRADFLOW_THREADS": "2"},
    "seeds+100": {"GRADFLOW_SEED_OFFSET": "100"},
    "seeds+200": {"GRADFLOW_SEED_OFFSET": "200"},
}
# what the build itself must not take from the caller: a variant sets these, or nothing does
CONTROLLED = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "GRADFLOW_THREADS", "GRADFLOW_SEED_OFFSET")


def run(lesson: Path, variant: str) -> tuple[str, str, list[dict], str | None, float]:
    """Run ``lesson`` under ``variant``; return its claims' records and its error, if any."""
    with tempfile.TemporaryDirectory() as tmp:
        script, claims = Path(tmp) / "lesson.py", Path(tmp) / "claims.jsonl"
        script.write_text(lesson_script(lesson), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
        env |= {"MPLBACKEND": "Agg", "GRADFLOW_CLAIMS_FILE": str(claims)}
        env |= {"GRADFLOW_CLAIMS_KEEP_GOING": "1", **VARIANTS[variant]}
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=lesson.parent,
            capture_output=True,
            text=True,
            env=env,
        )
        seconds = time.perf_counter() - start
        records = []
        if claims.is_file():
            records = [json.loads(line) for line in claims.read_text().splitlines() if line]
    error = None if result.returncode == 0 else result.stderr.strip()[-2000:]
    return lesson.stem, variant, records, error, seconds


def cell(record: dict | None) -> str:
    if record is None:
        return "missing"
    value = "inf" if record["value"] is None else f"{record['value']:.3g}"
    margin = "inf" if record["margin"] is None else f"{record['margin']:+.2f}"
    return f"{value} ({margin})" + ("" if record["holds"] else " FAIL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--lessons", default="", help="comma-separated stems (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write every record to this file")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    lessons = sorted((ROOT / "lessons").glob("*.md"))
    if args.lessons:
        wanted = set(args.lessons.split(","))
        lessons = [p for p in lessons if p.stem in wanted]
        if len(lessons) != len(wanted):
            sys.exit(f"no such lesson among {sorted(wanted)}")
    print(
        f"robustness: {len(lessons)} lesson(s) x {len(variants)} variant(s), {args.jobs} at a time"
    )
    table: dict[tuple[str, str], dict[str, dict]] = {}
    errors, seconds = [], {}
    # a variant with more torch threads runs fewer lessons at once: no core twice
    for v in variants:
        threads = int(VARIANTS[v].get("GRADFLOW_THREADS", "1"))
        with ThreadPoolExecutor(max_workers=max(1, args.jobs // threads)) as pool:
            for stem, variant, records, error, took in pool.map(lambda p, v=v: run(p, v), lessons):
                print(
                    f"  {stem:<24} {variant:<12} {took:6.1f} s  {len(records)} claims"
                    + ("  RAISED" if error else ""),
                    flush=True,
                )
                seconds[stem, variant] = took
                if error:
                    errors.append(f"{stem} under {variant} raised:\n{error}")
                for r in records:
                    row = table.setdefault((r["chapter"], r["name"]), {})
                    if variant in row:
                        errors.append(f"{stem}: two claims are named {r['name']!r}; name each once")
                    row[variant] = r
    print("\n| chapter | claim | rule | " + " | ".join(variants) + " |")
    print("|---|---|---|" + "---|" * len(variants))
    failed = 0
    for (chapter, name), by_variant in table.items():
        rule = next(iter(by_variant.values()))["rule"]
        cells = [cell(by_variant.get(v)) for v in variants]
        failed += sum(c.endswith("FAIL") or c == "missing" for c in cells)
        print(f"| {chapter} | {name} | `{rule}` | " + " | ".join(cells) + " |")
    print(f"\n{len(table)} claims, {failed} failed or missing, {len(errors)} lesson run(s) raised")
    for v in variants:
        total = sum(s for (_, var), s in seconds.items() if var == v)
        print(f"  {v}: {total:.0f} s of serial execution")
    if args.json:
        rows = [r for by in table.values() for r in by.values()]
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    for e in errors:
        print(e, file=sys.stderr)
    if failed or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
