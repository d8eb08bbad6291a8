"""gradflow: the code of the textbook on gradient flow and shortcut (residual) connections.

Every lesson of the book imports its code from here, so what a lesson shows is what runs.
Models: ``mlp`` (plain and residual networks), ``gpt`` (the GPT-2 block, its parts and a small GPT
model), ``activations``, and ``init`` (every initialisation scheme). Measurements: ``gradients`` (all
of gradient flow), ``landscape`` (loss landscapes) and ``paths`` (paths, lesions and shattered
gradients of residual networks). ``data`` and ``train`` (the digits and a small
training loop). ``experiments`` (one module per chapter, named after it). Presentation: ``plots``,
``diagrams`` and ``display``. ``published`` holds the published values the book compares with.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shortcut-connections")  # the distribution: pyproject.toml's name
except PackageNotFoundError:  # pragma: no cover - only when run from an uninstalled checkout
    __version__ = "0+unknown"
