"""Named claims: the qualitative statements of a chapter, checked against what it measured.

A chapter starts with ``begin_chapter("name")``, which fixes what could change its numbers from one
machine to another (one torch thread, deterministic algorithms) and names the chapter for its claims.
Then every statement the prose makes about a measurement is guarded by ``claim``::

    claim("plain-32 degrades", ratio, "> 2")

A claim that holds hands its record (chapter, name, value, rule and margin: how far the value lies
inside its rule, relative to the rule's edge) to the build, which lists every claim of the book in
``_build/claims.json``; one that fails stops the build with a message naming all of that.

Environment: ``GRADFLOW_THREADS`` (torch threads, 1 unless set), ``GRADFLOW_CLAIMS_FILE`` (append
each claim's record to this file as a JSON line) and ``GRADFLOW_CLAIMS_KEEP_GOING`` (record a failed
claim instead of raising), which ``nox -s robustness`` uses to tabulate claims over variants.
"""

import json
import math
import os
import re

import torch

MIME = "application/vnd.gradflow.claim+json"  # how a claim's record travels in a notebook's output
RULE = re.compile(
    r"\s*(?:(?P<op>[<>]=?)\s*(?P<edge>\S+)|in\s*\[\s*(?P<low>[^,\s]+)\s*,\s*(?P<high>[^\]\s]+)\s*\])\s*"
)
_chapter = "(no chapter)"


class ClaimFailed(AssertionError):
    """A claim of the book that the measurement on this machine does not support."""


def begin_chapter(name: str) -> None:
    """Name the chapter whose claims follow; fix torch's threads and use deterministic algorithms.

    The number of threads changes how sums are split, so the rounding, and a chaotic training
    amplifies that: one thread everywhere (or ``GRADFLOW_THREADS``) gives one result per machine.
    """
    global _chapter
    if not isinstance(name, str) or not name:
        raise TypeError(f"the chapter's name must be a non-empty str, got {name!r}")
    _chapter = name
    threads = os.environ.get("GRADFLOW_THREADS", "1")
    if not threads.isdigit() or int(threads) < 1:
        raise ValueError(f"GRADFLOW_THREADS must be a positive whole number, got {threads!r}")
    torch.set_num_threads(int(threads))
    torch.use_deterministic_algorithms(True)


def parse_rule(rule: str) -> tuple[float, float]:
    """The open interval ``(low, high)`` a rule admits: ``"> 2"``, ``"<= 1e-6"``, ``"in [0.5, 2]"``."""
    if not isinstance(rule, str):
        raise TypeError(f"a claim's rule must be a str such as '> 2', got {type(rule).__name__}")
    m = RULE.fullmatch(rule)
    try:
        if m is None:
            raise ValueError
        if m["op"]:
            edge = float(m["edge"])
            return (edge, math.inf) if m["op"].startswith(">") else (-math.inf, edge)
        low, high = float(m["low"]), float(m["high"])
    except ValueError:
        raise ValueError(
            f"cannot read the rule {rule!r}: write '> x', '>= x', '< x', '<= x' or 'in [a, b]'"
        ) from None
    if not low < high:
        raise ValueError(f"the rule {rule!r} admits nothing: its lower edge is not below its upper")
    return low, high


def margin(value: float, rule: str) -> float:
    """How far ``value`` lies inside ``rule``, relative to the nearer edge (negative: outside).

    ``margin(3, "> 2")`` is 0.5: the value could fall by half its edge before the claim failed.
    An edge at zero counts absolutely.
    """
    low, high = parse_rule(rule)
    sides = []
    if low > -math.inf:
        sides.append((value - low) / (abs(low) or 1.0))
    if high < math.inf:
        sides.append((high - value) / (abs(high) or 1.0))
    return min(sides)


def claim(name: str, value, rule: str) -> float:
    """Check that the measured ``value`` satisfies ``rule``; record it, or stop with a clear message."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"a claim needs a non-empty str name, got {name!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"claim {name!r}: the value must be a number, got {value!r}") from None
    m = -math.inf if math.isnan(value) else margin(value, rule)
    held = m > 0 or (m == 0 and "=" in rule)
    record = {
        "chapter": _chapter,
        "name": name,
        "value": value if math.isfinite(value) else None,  # JSON has no infinity
        "rule": rule.strip(),
        "margin": m if math.isfinite(m) else None,
        "holds": held,
    }
    _report(record)
    if not held and not os.environ.get("GRADFLOW_CLAIMS_KEEP_GOING"):
        raise ClaimFailed(
            f"chapter {_chapter!r}, claim {name!r}: measured {value:.4g}, but the rule is "
            f"'{rule.strip()}'. The result differs on this machine (its processor, thread count "
            f"or seeds): the book's text makes a claim that this build does not support."
        )
    return value


def _report(record: dict) -> None:
    """Hand a claim's record to the build (a notebook output) and to GRADFLOW_CLAIMS_FILE."""
    path = os.environ.get("GRADFLOW_CLAIMS_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:  # in a notebook's kernel: an output the build collects
        verdict = "holds" if record["holds"] else "FAILS"
        text = f"claim {verdict}: {record['name']} ({record['value']} {record['rule']})"
        display({MIME: record, "text/plain": text}, raw=True)


def check_shape(x: torch.Tensor, shape: tuple) -> None:
    """Raise a ValueError unless tensor ``x`` has ``shape`` (d2l's check_shape)."""
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"expected shape {tuple(shape)}, got {tuple(x.shape)}")
