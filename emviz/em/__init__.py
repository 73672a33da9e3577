"""EM for Gaussian mixtures in PyTorch: pure kernels, initialisers and the step-wise fitter."""

from emviz.em.gmm import FitError, GaussianMixture, StepResult

__all__ = ["GaussianMixture", "StepResult", "FitError"]
