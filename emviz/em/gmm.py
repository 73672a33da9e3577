"""A step-wise EM fitter for Gaussian mixtures in PyTorch, scikit-learn compatible in its iterates.

``GaussianMixture`` is a thin stateful layer over the pure functions of :mod:`emviz.em.kernels`: it owns
the data on the device, the current parameters and the convergence test. One :meth:`~GaussianMixture.step`
is one E-step (log-space, log-sum-exp) and one M-step, and does not synchronise with the host (but for
the moments path's conditioning check, one scalar every ``CONDITION_CHECK_EVERY`` steps); the flags that
need the host (convergence, failures) are read only when asked for. On small data a step costs the
number of tensor ops it launches: :class:`emviz.em.plan.MomentsPlan` keeps that number low.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import NamedTuple

import numpy as np
import torch

from emviz.em import kernels as K
from emviz.em.checks import check_data, resolve_device, resolve_dtype, structured_covariances  # also public here
from emviz.em.comm import LOCAL, Comm
from emviz.em.init import initial_responsibilities
from emviz.em.plan import EMPTY_COMPONENT_MASS, MomentsPlan, keep_previous
from emviz.rows import is_rows
from emviz.em.streamed import StreamedFit, init_indices
from emviz.errors import InputError, did_you_mean
from emviz.mixture import Mixture

__all__ = ["GaussianMixture", "StepResult", "FitError", "resolve_device", "resolve_dtype"]

#: The moments path builds an (N, 1 + D + Q) feature array; past this width the direct path is cheaper.
MAX_MOMENT_FEATURES = 64

#: The moments path loses about ``eps * max|x - c|^2 / lambda_min(Sigma)`` of a Mahalanobis distance to
#: cancellation. Past this amplification (a component collapsing onto a few identical points) the fitter
#: continues on the direct path, whose error does not grow with it. Checked every
#: ``CONDITION_CHECK_EVERY`` steps and at the start, a host read each time.
MOMENTS_MAX_AMPLIFICATION = 1e5
CONDITION_CHECK_EVERY = 4

#: CPU fits whose (K, N) work arrays are smaller than this run on one intra-op thread. Each op is then
#: a few microseconds of work, and a second OpenMP thread only adds synchronisation: measured on the
#: docs notebook's data, one thread is ~5% faster on an idle machine and several times faster when the
#: other core is busy (other programs, or emviz's own GIF-encoding thread).
SINGLE_THREAD_ELEMENTS = 1 << 16

_ALGORITHMS = ("em", "hard")

#: The start (k-means, k-means++, random, random_from_data) is computed from all points up to this many,
#: and from a seeded sample of this many beyond (see :func:`emviz.em.streamed.init_indices`).
INIT_SAMPLE = 1_000_000


class FitError(InputError):
    """EM cannot go on with these data and settings (a covariance stopped being positive definite)."""


class StepResult(NamedTuple):
    """What one E-step saw: the parameters it used, their log-likelihood, the log-responsibilities.

    All tensors stay on the fitter's device. The parameter, log-likelihood and ``empty`` tensors are
    fresh for every step and never modified afterwards, so a recorder may keep references to them.
    ``log_resp`` is a work buffer that the next step overwrites: copy what you need before stepping again.
    """

    weights: torch.Tensor  # (K,)
    means: torch.Tensor  # (K, D)
    covariances: torch.Tensor  # (K, D, D), full
    log_likelihood: torch.Tensor  # scalar: total over the N points (nats)
    log_resp: torch.Tensor  # (K, N): component-major
    empty: torch.Tensor  # (K,) bool: components that were empty in this step's M-step


def _inference(method):
    """``torch.inference_mode()`` around ``method``, entered only where it is not on already: the
    recorder runs every step inside its own, and entering it again costs as much as a few tensor ops."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if torch.is_inference_mode_enabled():
            return method(*args, **kwargs)
        with torch.inference_mode():
            return method(*args, **kwargs)

    return wrapper


class GaussianMixture(StreamedFit):
    """Gaussian mixture fitted by EM one step at a time, on the GPU when there is one.

    Parameters
    ----------
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    init : Mixture or {"kmeans", "kmeans++", "random", "random_from_data"}
        An explicit start (covariances (K, D, D) with the covariance type's structure) or the name of a
        scikit-learn initialisation. ``kmeans`` (the default, as in scikit-learn) estimates the starting
        covariances from the k-means clusters; ``kmeans++`` and ``random_from_data`` start every
        component on a single data point, so their starting covariances are just ``reg_covar``.
    reg_covar : float
        Added to the diagonal of every covariance estimate.
    tol : float
        Convergence when the change of the mean per-sample log-likelihood between two steps is below
        ``tol``; ``tol=0`` runs exactly ``max_iter`` steps.
    max_iter : int
    dtype : {"float64", "float32"}
    device : "auto", "cpu", "cuda" or "cuda:N"
    seed : int
        Seeds this fitter's own ``torch.Generator``; the global RNG is never used.
    algorithm : {"em", "hard"}
        ``"hard"`` is classification EM: each point is assigned wholly to its most probable component.
    kernel : {"auto", "moments", "direct"}
        How steps are evaluated (see :mod:`emviz.em.kernels`); ``auto`` takes ``moments`` in float64.
    chunk_size : "auto" or int
        Rows per chunk of the E-step and the M-step's statistics (exact EM, see :mod:`emviz.em.stream`):
        no (N, K) array is made. ``auto`` chunks only when the work arrays would not fit a quarter of the
        device's free memory (then it is the unchunked fit); data streamed from a memory-mapped file is
        always read in chunks.
    init_sample : int
        The start is computed from all points when N <= ``init_sample``, else from a seeded sample of
        ``init_sample`` points (k-means on 10^8 points would cost more than the fit).
    comm : emviz.em.comm.Comm, optional
        The ranks of a data-parallel fit (:class:`emviz.em.comm.TorchDistributed`); X is then this rank's
        shard of the rows. One process by default.
    """

    def __init__(self, n_components=1, covariance_type="full", init="kmeans", reg_covar=1e-6, tol=1e-3,
                 max_iter=100, dtype="float64", device="auto", seed=0, algorithm="em", kernel="auto",
                 chunk_size="auto", init_sample=INIT_SAMPLE, comm: Comm | None = None):
        if not isinstance(n_components, (int, np.integer)) or isinstance(n_components, bool) or n_components < 1:
            raise InputError(f"n_components: must be an integer >= 1, got {n_components!r}")
        if covariance_type not in K.COVARIANCE_TYPES:
            raise InputError(
                f"covariance_type: unknown {covariance_type!r}{did_you_mean(covariance_type, K.COVARIANCE_TYPES)}; "
                f"choose from {', '.join(K.COVARIANCE_TYPES)}"
            )
        if algorithm not in _ALGORITHMS:
            raise InputError(f"algorithm: must be one of {', '.join(_ALGORITHMS)}, got {algorithm!r}")
        if kernel not in ("auto", "moments", "direct"):
            raise InputError(f"kernel: must be auto, moments or direct, got {kernel!r}")
        for name, value, low in (("reg_covar", reg_covar, 0.0), ("tol", tol, 0.0)):
            if not np.isfinite(value) or value < low:
                raise InputError(f"{name}: must be a finite number >= {low}, got {value!r}")
        if not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
            raise InputError(f"max_iter: must be an integer >= 0, got {max_iter!r}")
        if chunk_size != "auto" and (not isinstance(chunk_size, (int, np.integer)) or isinstance(chunk_size, bool)
                                     or chunk_size < 1):
            raise InputError(f"chunk_size: must be auto or an integer >= 1, got {chunk_size!r}")
        if not isinstance(init_sample, (int, np.integer)) or isinstance(init_sample, bool) or init_sample < 1:
            raise InputError(f"init_sample: must be an integer >= 1, got {init_sample!r}")
        if not isinstance(init, (Mixture, str)):
            raise InputError(f"init: must be a Mixture or the name of an initialisation, got {type(init).__name__}")
        if isinstance(init, Mixture) and init.n_components != n_components:
            raise InputError(f"init: has {init.n_components} components, n_components is {n_components}")
        self.n_components = int(n_components)
        self.covariance_type = covariance_type
        self.init = init
        self.reg_covar = float(reg_covar)
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        self.seed = seed
        self.algorithm = algorithm
        self.kernel = kernel
        self.chunk_size = chunk_size if chunk_size == "auto" else int(chunk_size)
        self.init_sample = int(init_sample)
        self.comm = comm if comm is not None else LOCAL
        self._kern = K.COVARIANCE_TYPES[covariance_type]
        self._initialized = False

    # ------------------------------------------------------------------ set-up
    @torch.inference_mode()
    def initialize(self, X) -> "GaussianMixture":
        """Move X to the device and set the starting parameters. Resets the step counter.

        X is an array (N, D), a tensor, or streamed rows (:class:`emviz.rows.NpyRows`); in a
        data-parallel fit, this rank's shard.
        """
        if is_rows(X) or self.comm.world > 1:
            # A bad shard fails every rank with its message before the first collective; what follows
            # (sums, the start) fails alike on every rank, as it works on the same reduced numbers.
            Xn = X if is_rows(X) else self.comm.agree(lambda: check_data(X))
            self._streamed = True
            self._initialize_streamed(Xn)
            return self._reset_steps()
        Xn = check_data(X, self.n_components)
        if self._device_chunk(*Xn.shape) is not None:
            self._streamed = True
            self._initialize_streamed(Xn)
            return self._reset_steps()
        self._streamed = False
        self._host = Xn
        d = Xn.shape[1]
        if isinstance(self.init, Mixture) and self.init.n_features != d:
            raise InputError(f"init: means have {self.init.n_features} feature(s), X has {d}")
        self._n, self._d = Xn.shape
        self._n_local = self._n
        # Centring keeps the moments path's cancellation error small; every parameter is shift-equivariant.
        center = Xn.mean(0)
        centred = Xn - center  # in numpy: one writable copy (the caller's array may be read-only)
        self._center = torch.as_tensor(center, dtype=self.dtype, device=self.device)
        self._X = torch.as_tensor(centred, dtype=self.dtype, device=self.device)
        self._use_moments = self._choose_moments(d)
        self._spread = float(np.max(np.sum(centred**2, axis=1)))
        self._phi = K.moment_features(self._X, self.covariance_type) if self._use_moments else None
        self._phi_t = self._phi.mT if self._use_moments else None
        self._plan = (MomentsPlan(self.covariance_type, self.n_components, d, self.reg_covar, self.dtype, self.device)
                      if self._use_moments else None)
        # Component-major (K, N) work buffers, reused by every step.
        self._wlp = torch.empty(self.n_components, self._n, dtype=self.dtype, device=self.device)
        self._resp = torch.empty_like(self._wlp)
        self._peak = torch.empty(self._n, dtype=self.dtype, device=self.device)
        self._total = torch.empty_like(self._peak)
        self._gen = torch.Generator().manual_seed(int(self.seed))
        self._set_initial_parameters()
        return self._reset_steps()

    def _reset_steps(self) -> "GaussianMixture":
        self.n_iter_ = 0
        # Per-step device tensors, read only at sync points (appending costs no device op).
        self._lower_bounds = []  # total log-likelihood seen by each step's E-step
        self._failed = []  # (K,) bool: factorisation failures of each step's new covariances
        self._empty = []  # (K,) bool: empty components of each step's M-step
        self.kernel_switched_at_ = None
        self.converged_ = False
        self._initialized = True
        if self._use_moments and self.kernel == "auto":
            self._leave_moments_if_ill_conditioned()  # a start may already sit on identical points
        return self

    def _choose_moments(self, d: int) -> bool:
        width = 1 + d + self._kern.n_moments(d)
        if self.kernel == "auto":
            return self.dtype == torch.float64 and width <= MAX_MOMENT_FEATURES
        return self.kernel == "moments"

    def _set_initial_parameters(self) -> None:
        if isinstance(self.init, Mixture):
            tensor = lambda a: torch.tensor(np.array(a), dtype=self.dtype, device=self.device)
            self._weights = tensor(self.init.weights)
            self._means = tensor(self.init.means) - self._center
            self._cov = tensor(structured_covariances(self.init.covariances, self.covariance_type))
        else:
            idx = init_indices(self._n, self.init_sample, self.seed)
            X0 = self._X if idx is None else self._X[torch.as_tensor(idx, device=self.device)]
            resp = initial_responsibilities(self.init, X0, self.n_components, self._gen).T.contiguous()
            _, self._weights, self._means, self._cov = K.estimate_from_resp(
                X0, resp, self.reg_covar, self.covariance_type
            )
        self._factor, failed = self._kern.factor(self._cov)
        if bool(failed.any()):
            raise FitError(f"init: the initial covariances are not positive definite; {self._remedy()}")

    def _require_init(self):
        if not self._initialized:
            raise RuntimeError("call initialize(X) or fit(X) first")

    # ------------------------------------------------------------------ the step protocol
    def _e_step(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-responsibilities and responsibilities (K, N) in the work buffers, and the total
        log-likelihood, without a host sync.

        ``torch.softmax`` gives the responsibilities in one fused pass (max, exp, sum, divide: faster
        than ``torch.exp`` alone on the CPU). The log-normaliser follows from them without a second
        ``exp``: the largest responsibility of a point is ``exp(peak - lse)`` with ``peak`` its largest
        weighted log-density, so ``lse = peak - log(max_k resp)``, and that maximum is >= 1/K, so its
        log is well conditioned. (``torch.logsumexp`` would cost another ``exp`` pass and an inf check.)
        """
        wlp = self._wlp
        if self._use_moments:
            torch.matmul(self._plan.natural_weights(self._weights, self._means, self._factor), self._phi, out=wlp)
        else:
            K.weighted_log_prob_direct(self._X, self._weights, self._means, self._factor, self.covariance_type, out=wlp)
        resp = torch.softmax(wlp, 0, out=self._resp)
        lse = torch.amax(wlp, 0, out=self._peak).sub_(torch.amax(resp, 0, out=self._total).log_())
        return wlp.sub_(lse), resp, lse.sum()

    def _m_step(self, log_resp: torch.Tensor, resp: torch.Tensor) -> torch.Tensor:
        """Update the parameters from the responsibilities (K, N); returns the (K,) empty-component mask."""
        if self.algorithm == "hard":
            resp = torch.zeros_like(resp).scatter_(0, log_resp.argmax(0, keepdim=True), 1.0)
        if self._use_moments:
            stats = self._plan.statistics(resp, self._phi_t)
            empty, weights, means, cov = self._plan.estimate(stats, self._means, self._cov)
        else:
            nk_raw, weights, means, cov = K.estimate_from_resp(self._X, resp, self.reg_covar, self.covariance_type)
            empty = nk_raw < EMPTY_COMPONENT_MASS
            means, cov = keep_previous(empty, means, cov, self._means, self._cov, self.covariance_type)
        factor, failed = self._plan.factor(cov) if self._plan is not None else self._kern.factor(cov)
        self._failed.append(failed)
        self._empty.append(empty)
        self._weights, self._means, self._cov, self._factor = weights, means, cov, factor
        return empty

    @_inference
    def step(self) -> StepResult:
        """One EM iteration: E-step on the current parameters, then M-step. No host synchronisation."""
        self._require_init()
        params = (self._weights, self._means + self._center, self._full_covariances())
        if self._streamed:
            ll, log_resp = self._pass(m_step=True)
            self._lower_bounds.append(ll)
            empty = self._streamed_m_step()
        else:
            log_resp, resp, ll = self._e_step()
            self._lower_bounds.append(ll)
            empty = self._m_step(log_resp, resp)
        self.n_iter_ += 1
        if self._use_moments and self.kernel == "auto" and self.n_iter_ % CONDITION_CHECK_EVERY == 0:
            self._leave_moments_if_ill_conditioned()
        return StepResult(*params, ll, log_resp, empty)

    @_inference  # called from step(), already in inference mode: not entered again
    def _leave_moments_if_ill_conditioned(self) -> None:
        full = self._full_covariances()
        smallest = float(torch.linalg.eigvalsh(full).min()) if self._d > 1 else float(full.min())
        if not smallest > 0 or self._spread / smallest > MOMENTS_MAX_AMPLIFICATION:
            self.kernel_switched_at_ = self.n_iter_
            if self._streamed:
                self._leave_moments_streamed()
                return
            self._use_moments = False
            self._phi = self._phi_t = self._plan = None  # frees the (P, N) feature array

    @_inference
    def evaluate(self) -> StepResult:
        """E-step only: the current parameters, their log-likelihood and log-responsibilities."""
        self._require_init()
        if self._streamed:
            ll, log_resp = self._pass(m_step=False)
        else:
            log_resp, _, ll = self._e_step()
        no_empty = torch.zeros(self.n_components, dtype=torch.bool, device=self.device)
        return StepResult(self._weights, self._means + self._center, self._full_covariances(), ll, log_resp, no_empty)

    @property
    def converged(self) -> bool:
        """Whether the last step's change of the mean log-likelihood was below ``tol`` (reads the device).

        Also raises :class:`FitError` if a covariance stopped being positive definite or the
        log-likelihood is not finite.
        """
        self._require_init()
        if len(self._lower_bounds) == 0:
            return False
        if self.tol <= 0:
            # abs(change) < 0 never holds: no need to read the device every step.
            return False
        last = self._lower_bounds[-1]
        prev = self._lower_bounds[-2] if len(self._lower_bounds) > 1 else None
        # One host read per step: both log-likelihoods and the newest failure flag.
        failed = self._failed[-1].any().to(last.dtype)
        values = torch.stack([last, prev if prev is not None else last, failed]).tolist()
        self._raise_if_failed(values[0], values[2])
        # scikit-learn compares the change of the mean (per-point) log-likelihood with tol.
        done = prev is not None and abs(values[0] - values[1]) / self._n < self.tol
        self.converged_ = self.converged_ or done
        return done

    def check(self) -> None:
        """Raise :class:`FitError` if the fit has gone wrong so far (one host read)."""
        self._require_init()
        if not self._lower_bounds:
            return
        failed = torch.stack(self._failed).any().to(self.dtype)
        value, failed = torch.stack([self._lower_bounds[-1], failed]).tolist()
        self._raise_if_failed(value, failed)

    def _remedy(self) -> str:
        return "increase reg_covar" + (" or use dtype float64" if self.dtype == torch.float32 else "")

    def _raise_if_failed(self, mean_ll: float, failed: float) -> None:
        hint = self._remedy()
        if failed:
            raise FitError(
                f"EM failed by iteration {self.n_iter_}: a covariance is no longer positive definite; {hint}"
            )
        if not np.isfinite(mean_ll):
            raise FitError(f"EM failed by iteration {self.n_iter_}: the log-likelihood is not finite; {hint}")

    def _full_covariances(self) -> torch.Tensor:
        return self._kern.to_full(self._cov, self.n_components, self._d)

    def threads(self):
        """Context in which to run the steps: one CPU thread for small fits (see
        :data:`SINGLE_THREAD_ELEMENTS`), torch's setting otherwise. Restores the thread count after."""
        self._require_init()
        if self.device.type != "cpu" or self._n_local * self.n_components >= SINGLE_THREAD_ELEMENTS:
            return contextlib.nullcontext()
        return _one_thread()

    # ------------------------------------------------------------------ scikit-learn-like API
    def fit(self, X) -> "GaussianMixture":
        """Initialise and run EM until convergence or ``max_iter`` steps, like scikit-learn's ``fit``.

        ``lower_bound_`` is the mean log-likelihood of the parameters before the last M-step, as in
        scikit-learn.
        """
        self.initialize(X)
        with self.threads():
            for _ in range(self.max_iter):
                self.step()
                if self.converged:
                    break
        self.check()
        if not self.converged_ and self.tol > 0 and self.max_iter > 0:
            warnings.warn(
                f"EM did not converge in {self.max_iter} iterations (tol={self.tol}); increase max_iter or tol",
                UserWarning,
                stacklevel=2,
            )
        self.lower_bound_ = float(self._lower_bounds[-1]) / self._n if self._lower_bounds else -np.inf
        return self

    @property
    def n_samples_(self) -> int:
        """Points of the whole fit (all ranks' shards together)."""
        self._require_init()
        return self._n

    @property
    def is_root(self) -> bool:
        """Whether this process records and writes (rank 0; always in one process)."""
        return self.comm.is_root

    @property
    def weights_(self) -> np.ndarray:
        self._require_init()
        return self._weights.cpu().numpy()

    @property
    def means_(self) -> np.ndarray:
        self._require_init()
        return (self._means + self._center).cpu().numpy()

    @property
    def covariances_(self) -> np.ndarray:
        """Covariances in the shape of the covariance type, as scikit-learn's ``covariances_``."""
        self._require_init()
        return self._cov.cpu().numpy()


    @property
    def mixture_(self) -> Mixture:
        """The current parameters as a :class:`Mixture` (full covariances)."""
        self._require_init()
        return Mixture(self.weights_, self.means_, self._full_covariances().cpu().numpy())

    @property
    def events_(self) -> list[dict]:
        """Components that were empty in some M-step and kept their parameters: [{component, steps}]."""
        if not self._empty:
            return []
        counts = torch.stack(self._empty).sum(0).cpu().tolist()
        return [{"event": "empty_component", "component": k, "steps": c} for k, c in enumerate(counts) if c]

    @torch.inference_mode()
    def _weighted_log_prob(self, X) -> torch.Tensor:
        self._require_init()
        Xn = check_data(X)
        if Xn.shape[1] != self._d:
            raise InputError(f"X: has {Xn.shape[1]} feature(s), the model was fitted on {self._d}")
        Xt = torch.as_tensor(Xn, dtype=self.dtype, device=self.device) - self._center
        return K.weighted_log_prob_direct(Xt, self._weights, self._means, self._factor, self.covariance_type).T

    def score_samples(self, X) -> np.ndarray:
        """Log-density of the mixture at each point, array of shape (N,)."""
        return torch.logsumexp(self._weighted_log_prob(X), 1).cpu().numpy()

    def score(self, X) -> float:
        """Mean log-likelihood per point."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities, array of shape (N, K)."""
        wlp = self._weighted_log_prob(X)
        return torch.exp(wlp - torch.logsumexp(wlp, 1, keepdim=True)).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """Most probable component of each point, array of shape (N,)."""
        return self._weighted_log_prob(X).argmax(1).cpu().numpy()

    def sample(self, n_samples: int = 1, seed=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw points from the fitted mixture; returns (X (n, D), labels (n,))."""
        if n_samples < 1:
            raise InputError(f"n_samples: must be >= 1, got {n_samples}")
        mixture = self.mixture_
        rng = np.random.RandomState(self.seed if seed is None else seed)
        sizes = rng.multinomial(n_samples, mixture.weights)
        return mixture.sample(sizes, seed=rng.randint(2**31 - 1))

    def _n_parameters(self) -> int:
        k, d = self.n_components, self._d
        return self._kern.n_cov_params(k, d) + k * d + k - 1

    def bic(self, X) -> float:
        """Bayesian information criterion on X (lower is better)."""
        n = check_data(X).shape[0]
        return -2 * self.score(X) * n + self._n_parameters() * np.log(n)

    def aic(self, X) -> float:
        """Akaike information criterion on X (lower is better)."""
        n = check_data(X).shape[0]
        return -2 * self.score(X) * n + 2 * self._n_parameters()

    def __repr__(self):
        return (f"GaussianMixture(n_components={self.n_components}, covariance_type={self.covariance_type!r}, "
                f"algorithm={self.algorithm!r}, dtype={str(self.dtype).removeprefix('torch.')}, device={self.device})")


@contextlib.contextmanager
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
