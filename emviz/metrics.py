"""Per-iteration diagnostics of a trace, in numpy: the ELBO and KL(q || p) decomposition, errors against the truth.

Everything here reads a saved :class:`~emviz.trace.Trace` (no fitter, no torch), so the curves can be
drawn for any trace, also one recorded on another machine.

The decomposition EM is built on: for any distribution ``q_n`` over the components of each point,

    log p(X | theta) = ELBO(q, theta) + KL(q || p(z | X, theta)),
    ELBO(q, theta)   = sum_n sum_k q_nk [log w_k + log N(x_n | mu_k, Sigma_k) - log q_nk],

and KL >= 0. The E-step of iteration t sets q to the posterior under theta_{t-1} (KL = 0, ELBO = the
log-likelihood); the M-step raises the ELBO by choosing theta_t; the log-likelihood rises at least as much,
because the KL gap opens up again (it is closed by the next E-step).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from emviz.errors import InputError

__all__ = ["log_posterior", "elbo_kl", "match_components", "parameter_errors", "ERROR_NAMES"]

#: Keys of :func:`parameter_errors`, in the order the curves panel lists them.
ERROR_NAMES = ("mean", "std", "weight")


def log_posterior(mixture, X) -> np.ndarray:
    """Log-responsibilities ``log p(z = k | x_n, theta)`` of each point under ``mixture``, shape (N, K).

    Computed in log space, so a component whose density underflows still gets a finite log-probability.
    """
    joint = mixture.component_log_pdf(X)  # log w_k + log N(x_n | theta_k), (N, K)
    return joint - logsumexp(joint, axis=1, keepdims=True)


def _kl_rows(q: np.ndarray, log_p: np.ndarray) -> np.ndarray:
    """``KL(q_n || p_n)`` per row, array of shape (M,), with ``0 log 0 = 0``.

    ``q`` (M, K) is renormalised first: traces store responsibilities in reduced precision, and a
    row summing to 1 +- 1e-7 would make the KL's sign depend on rounding.
    """
    q = np.asarray(q, dtype=np.float64)
    q = q / q.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * (np.log(q) - log_p), 0.0)
    return terms.sum(axis=1)


def elbo_kl(trace) -> tuple[np.ndarray, np.ndarray]:
    """The ELBO and the KL gap of every iteration, from the recorded responsibilities.

    For iteration t >= 1, ``q`` is the responsibilities recorded at t - 1 (the posterior under
    theta_{t-1}, which is what the E-step of step t hands to the M-step) and theta is the parameters at t,
    so ``ELBO_t`` is the bound the M-step of step t maximised, evaluated at its result, and ``KL_t`` the
    gap that opened when the parameters moved (the next E-step closes it). At t = 0, ``q`` is the
    responsibilities at 0 and the parameters at 0, so ``KL_0 = 0`` and ``ELBO_0`` is the log-likelihood.

    Exactly what is computed:

    - ``KL_t = (N / M) * sum_m KL(q_m || p(z | x_m, theta_t))`` over the M points whose responsibilities
      were recorded (``trace.resp_index``), with ``0 log 0 = 0``; N is ``trace.n_samples``.
    - ``ELBO_t = trace.log_likelihood[t] - KL_t``, which is the definition
      ``sum_n sum_k q_nk [log w_k + log N(x_n | theta_k) - log q_nk]`` rearranged with
      ``log p(x_n) = log w_k + log N(x_n | theta_k) - log p(z = k | x_n)``.

    When M = N (every point recorded, as the docs trace does when ``resp_points >= N``) both are exact
    and ``log-likelihood = ELBO + KL`` holds to rounding. When M < N the KL sum is estimated from the
    M points (a uniform sample, so the estimate is unbiased) and the ELBO inherits that error; the
    log-likelihood part is exact either way, which keeps the ELBO far less noisy than scaling up the
    ELBO's own per-point sum would (that sum varies as much as the per-point log-likelihoods do).
    In every case ``ELBO_t <= log-likelihood_t`` and the gap is ``KL_t >= 0``.

    Parameters
    ----------
    trace : Trace

    Returns
    -------
    elbo : array of shape (T+1,)
        Nats, the same units as ``trace.log_likelihood``.
    kl : array of shape (T+1,)
        Nats, non-negative.
    """
    m = len(trace.resp_index)
    if m == 0:
        raise InputError("the trace records no responsibilities (resp_points = 0); the ELBO needs them")
    X = trace.resp_X
    scale = trace.n_samples / m
    kl = np.empty(trace.n_iter + 1)
    for t in range(trace.n_iter + 1):
        q = trace.resp[max(t - 1, 0)]
        total = scale * float(np.sum(_kl_rows(q, log_posterior(trace.mixture(t), X))))
        # KL >= 0 (Gibbs' inequality); a q equal to the posterior can round to -1e-17 per point.
        kl[t] = max(total, 0.0)
    return trace.log_likelihood - kl, kl


def match_components(estimated_means, true_means, scale=None) -> np.ndarray:
    """Pair estimated with true components by the Hungarian method on the distances between their means.

    Parameters
    ----------
    estimated_means, true_means : array of shape (K, D)
    scale : array of shape (D,), optional
        Divide each feature's differences by this (e.g. the data's standard deviations) before taking
        Euclidean distances, so that a feature in large units does not decide the pairing alone.

    Returns
    -------
    int array of shape (K,)
        ``perm[k]`` is the true component paired with estimated component k; the pairing minimises the
        total distance. A permutation of the true means is recovered exactly.
    """
    est = np.asarray(estimated_means, dtype=np.float64)
    true = np.asarray(true_means, dtype=np.float64)
    if est.ndim != 2 or est.shape != true.shape:
        raise InputError(f"match_components: estimated means {est.shape} and true means {true.shape} "
                         "must both have shape (K, D)")
    from scipy.optimize import linear_sum_assignment  # here: importing scipy.optimize takes ~0.4 s

    diff = est[:, None, :] - true[None, :, :]
    if scale is not None:
        diff = diff / np.asarray(scale, dtype=np.float64)
    _, perm = linear_sum_assignment(np.sqrt(np.sum(diff**2, axis=-1)))
    return perm


def parameter_errors(trace) -> dict[str, np.ndarray]:
    """Errors of the estimated parameters against the true mixture, per iteration.

    The components are paired with the true ones once, by :func:`match_components` on the *final*
    means (standardised by the data's per-feature spread, the pairing the other panels draw the truth
    with), and that pairing is used at every iteration: re-pairing per iteration could swap partners
    mid-run and make the curves jump.

    Returns
    -------
    dict of str to array of shape (T+1,)
        ``"mean"``: the average over components of the Euclidean distance ``|mu_k - mu*_k|`` (in 1D the
        mean absolute error of the means), data units. ``"std"``: the mean absolute error of the
        per-feature standard deviations, over components and features, data units. ``"weight"``: the
        mean absolute error of the weights.
    """
    truth = trace.truth
    if truth is None:
        raise InputError("parameter errors need the true mixture, and the trace has none")
    if truth.n_components != trace.n_components:
        raise InputError(f"parameter errors need as many true components as fitted ones; the truth has "
                         f"{truth.n_components}, the fit {trace.n_components}")
    spread = np.std(trace.X, axis=0) if len(trace.X) > 1 else np.ones(trace.n_features)
    perm = match_components(trace.means[-1], truth.means, np.where(spread > 0, spread, 1.0))
    mean_err = np.linalg.norm(trace.means - truth.means[perm], axis=-1).mean(axis=1)
    std_err = np.abs(trace.stds - truth.stds[perm]).mean(axis=(1, 2))
    weight_err = np.abs(trace.weights - truth.weights[perm]).mean(axis=1)
    return {"mean": mean_err, "std": std_err, "weight": weight_err}
