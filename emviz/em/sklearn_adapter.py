"""Step scikit-learn's ``GaussianMixture`` one EM iteration at a time, with emviz's step protocol.

This is the reference the tests compare emviz against, and it lets the same :class:`~emviz.Recorder`
make a trace with either library. Each step is a warm-started ``fit`` with ``max_iter=1``: scikit-learn
runs one E-step and one M-step from the current parameters. scikit-learn is imported lazily: it is only
needed when this adapter is used.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from emviz.em.gmm import StepResult, check_data, structured_covariances
from emviz.errors import InputError
from emviz.mixture import Mixture

__all__ = ["SklearnStepper"]


def _precisions(cov: np.ndarray, kind: str) -> np.ndarray:
    return np.linalg.inv(cov) if kind in ("full", "tied") else 1.0 / cov


def _to_full(cov: np.ndarray, kind: str, k: int, d: int) -> np.ndarray:
    if kind == "full":
        return cov
    if kind == "tied":
        return np.broadcast_to(cov, (k, d, d)).copy()
    if kind == "diag":
        return np.einsum("kd,de->kde", cov, np.eye(d))
    return cov[:, None, None] * np.eye(d)


class SklearnStepper:
    """scikit-learn's ``GaussianMixture`` behind the step protocol, from an explicit start.

    Parameters
    ----------
    n_components, covariance_type, reg_covar, tol, max_iter
        As for :class:`emviz.GaussianMixture`.
    init : Mixture
        The starting parameters (scikit-learn's own initialisations draw other random numbers than
        emviz's, so comparisons start from an explicit mixture).
    """

    dtype = torch.float64
    device = torch.device("cpu")

    def __init__(self, n_components: int, covariance_type: str = "full", init: Mixture | None = None,
                 reg_covar: float = 1e-6, tol: float = 1e-3, max_iter: int = 100):
        if not isinstance(init, Mixture):
            raise InputError("init: SklearnStepper needs an explicit Mixture to start from")
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.init = init
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter

    def initialize(self, X) -> "SklearnStepper":
        from sklearn.mixture import GaussianMixture as SkGaussianMixture

        self._X = check_data(X, self.n_components)
        cov = structured_covariances(self.init.covariances, self.covariance_type)
        self._model = SkGaussianMixture(
            n_components=self.n_components, covariance_type=self.covariance_type, tol=self.tol,
            reg_covar=self.reg_covar, max_iter=1, warm_start=True, weights_init=self.init.weights,
            means_init=self.init.means, precisions_init=_precisions(cov, self.covariance_type),
        )
        self._params = (self.init.weights, self.init.means, self.init.covariances)
        self._converged = False
        self.n_iter_ = 0
        return self

    def _e_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        from scipy.special import logsumexp

        wlp = Mixture(*self._params).component_log_pdf(self._X)
        norm = logsumexp(wlp, axis=1)
        log_resp = np.ascontiguousarray((wlp - norm[:, None]).T)  # (K, N), as emviz's StepResult
        return torch.from_numpy(log_resp), torch.tensor(float(norm.sum()), dtype=torch.float64)

    def _result(self, log_resp, ll) -> StepResult:
        w, m, c = (torch.from_numpy(np.array(a, dtype=np.float64)) for a in self._params)
        return StepResult(w, m, c, ll, log_resp, torch.zeros(self.n_components, dtype=torch.bool))

    def step(self) -> StepResult:
        log_resp, ll = self._e_step()
        result = self._result(log_resp, ll)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "did not converge" after every one-iteration fit
            self._model.fit(self._X)
        k, d = self._model.means_.shape
        self._params = (self._model.weights_, self._model.means_,
                        _to_full(self._model.covariances_, self.covariance_type, k, d))
        self._converged = bool(self._model.converged_) and self.n_iter_ > 0
        self.n_iter_ += 1
        return result

    def evaluate(self) -> StepResult:
        return self._result(*self._e_step())

    @property
    def converged(self) -> bool:
        return self._converged
