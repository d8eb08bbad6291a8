"""gradflow: the code of the textbook on gradient flow and shortcut (residual) connections.

Every lesson of the book imports its code from here, so what a lesson shows is what runs.
Modules by topic: ``mlp`` (plain and residual networks), ``gradients`` (measuring gradient flow),
``activations`` and ``vanishing`` (slopes of activations; gradient profiles of deep plain networks),
``depth`` and ``landscape`` (training plain and residual networks of growing depth; loss
landscapes), ``gpt`` (the GPT-2 transformer block and its parts), ``blockflow`` (gradient flow through stacks of
blocks), ``data`` (the handwritten-digits data set), ``train`` (a small training loop), ``plots`` and
``display`` (figures and tables for the lessons), ``diagrams`` (network diagrams drawn in code).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gradflow")
except PackageNotFoundError:  # pragma: no cover - only when run from an uninstalled checkout
    __version__ = "0+unknown"
