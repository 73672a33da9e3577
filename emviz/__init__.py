"""emviz: animate how EM fits a Gaussian mixture.

Fit and record::

    trace = emviz.Recorder(emviz.GaussianMixture(3, init="kmeans++", max_iter=200)).run(X)
    trace.save("trace.npz")

In a notebook, fit and show inline (the player), or show a trace::

    anim = emviz.animate(X, n_components=3, panels=["ellipses", "curves"], max_iter=100)
    anim                      # displays the player; anim.save("em.gif") writes a file
    emviz.show(trace, panels=["components"])

Render a trace, or run a whole config as ``python -m emviz render`` does::

    emviz.render(trace, panels=["components"], path="em.gif", fps=10)
    emviz.run("gallery/docs_1d.yaml", out="out/")
"""

import types as _types

from emviz import render as _render_package
from emviz.errors import InputError
from emviz.mixture import Mixture
from emviz.trace import Trace

__version__ = "0.1.0"

__all__ = [
    "Animation", "Dataset", "FitError", "GaussianMixture", "InputError", "Mixture", "Recorder", "Trace",
    "animate", "load_config", "load_data", "render", "run", "schema", "show", "__version__",
]

_LAZY = {
    "GaussianMixture": ("emviz.em.gmm", "GaussianMixture"),
    "FitError": ("emviz.em.gmm", "FitError"),
    "Recorder": ("emviz.recorder", "Recorder"),
    "run": ("emviz.pipeline", "run"),
    "Dataset": ("emviz.data", "Dataset"),
    "load_data": ("emviz.data", "load_data"),
    "load_config": ("emviz.config", "load_config"),
    "schema": ("emviz.config", "schema"),
    "animate": ("emviz.notebook", "animate"),
    "show": ("emviz.notebook", "show"),
    "Animation": ("emviz.notebook", "Animation"),
}


def __getattr__(name):
    # Lazy so that ``import emviz`` imports neither torch (render workers never need it) nor
    # matplotlib, pydantic or YAML.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'emviz' has no attribute {name!r}")


class _CallableRenderModule(_types.ModuleType):
    """``emviz.render`` is the rendering subpackage and, called, :func:`emviz.render.api.render`."""

    def __call__(self, *args, **kwargs):
        from emviz.render.api import render

        return render(*args, **kwargs)


_render_package.__class__ = _CallableRenderModule
render = _render_package
