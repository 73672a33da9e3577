"""Benchmark emviz's EM side by side with the alternatives, in one run, and print ratios.

1. The docs notebook's data (1D, N = 6000, K = 3, 1000 iterations): emviz recording every iteration vs
   the notebook's way, which refits a fresh one-iteration model per step and then asks it for the
   responsibilities and the log-likelihood (with the PyTorch GMM package ``tgmm`` when it is installed,
   else scikit-learn warm-start stepping).
2. emviz vs scikit-learn's plain ``fit``, time per iteration, at N = 10^5 and 10^6 (D = 2, K = 5, full,
   float64), from the same explicit start.
3. Recorder overhead: a recorded fit vs a bare ``fit`` at N = 10^6.

Usage: ``python scripts/bench_em.py [--device cpu|cuda] [--quick]``. Not a test: timings depend on the
machine; the ratios are the point.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

import emviz
from emviz import GaussianMixture, Mixture, Recorder


def best_of(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def docs_data():
    truth = Mixture.from_stds([2 / 6, 1 / 6, 3 / 6], [[-2.0], [2.0], [6.0]], [2.0, 1.0, 3.0])
    X, _ = truth.sample([2000, 1000, 3000], seed=0)
    init = Mixture.from_stds([0.33] * 3, [[9.9], [10.0], [10.1]], [2.5] * 3)
    return X, init


def notebook_way_tgmm(X, init, n_steps):
    """The notebook's loop: a fresh ``tgmm.GaussianMixture(max_iter=1)`` per step, then its
    responsibilities and a numpy log-likelihood of the new parameters."""
    from scipy.stats import norm
    from tgmm import GaussianMixture as TGaussianMixture

    Xt = torch.tensor(X, dtype=torch.float32)
    data = X[:, 0]
    means = torch.tensor(init.means, dtype=torch.float32)
    covs = torch.tensor(init.covariances, dtype=torch.float32)
    weights = torch.tensor(init.weights, dtype=torch.float32)
    for _ in range(n_steps):
        gm = TGaussianMixture(n_components=3, n_features=1, covariance_type="full", init_means=means,
                              init_covariances=covs, init_weights=weights, max_iter=1, device="cpu")
        gm.fit(Xt)
        means, covs, weights = gm.means_.clone(), gm.covariances_.clone(), gm.weights_.clone()
        gm.predict_proba(Xt).numpy()
        m, s, w = means[:, 0].numpy(), covs[:, 0, 0].sqrt().numpy(), weights.numpy()
        np.sum(np.log(sum(w[i] * norm.pdf(data, m[i], s[i]) for i in range(3)) + 1e-10))


def notebook_way_sklearn(X, init, n_steps):
    """The notebook's loop with scikit-learn: one warm-started iteration per step, then its
    responsibilities and log-likelihood."""
    from emviz.em.sklearn_adapter import SklearnStepper

    stepper = SklearnStepper(3, "full", init=init, tol=0, max_iter=n_steps).initialize(X)
    for _ in range(n_steps):
        stepper.step()


def bench_notebook(device: str, n_steps: int) -> None:
    X, init = docs_data()
    try:
        import tgmm  # noqa: F401

        way, name = notebook_way_tgmm, "tgmm refit per step (the notebook's way)"
    except ImportError:
        way, name = notebook_way_sklearn, "scikit-learn warm-start stepping (tgmm not installed)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_ref = best_of(lambda: way(X, init, n_steps), 2)

    def ours():
        Recorder(GaussianMixture(3, init=init, max_iter=n_steps, tol=0, device=device),
                 resp_points=500, progress=False).run(X)

    ours()  # warm-up (first CUDA context, allocator)
    t_ours = best_of(ours, 3)
    print(f"\n[1] docs notebook data: N=6000, K=3, D=1, {n_steps} iterations, every one recorded")
    print(f"    {name:58s} {n_steps / t_ref:9.0f} it/s")
    print(f"    {'emviz Recorder(GaussianMixture), ' + device:58s} {n_steps / t_ours:9.0f} it/s")
    print(f"    ratio: emviz is {t_ref / t_ours:.1f}x faster (target >= 10x)")


def blobs(n: int, seed: int = 0):
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-10, 10, (5, 2))
    labels = rng.randint(0, 5, n)
    X = centres[labels] + rng.standard_normal((n, 2)) * rng.uniform(0.5, 2.0, (5, 1))[labels]
    init = Mixture(np.full(5, 0.2), centres + rng.standard_normal((5, 2)), np.broadcast_to(np.eye(2) * 4, (5, 2, 2)))
    return X, init


def bench_vs_sklearn(n: int, iters: int, device: str) -> float:
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    X, init = blobs(n)
    prec = np.linalg.inv(init.covariances)

    def sk_fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SkGaussianMixture(5, covariance_type="full", weights_init=init.weights, means_init=init.means,
                              precisions_init=prec, tol=0, max_iter=iters).fit(X)

    def ours():
        GaussianMixture(5, init=init, tol=0, max_iter=iters, device=device).fit(X)

    ours()
    t_sk = best_of(sk_fit, 2) / iters
    t_ours = best_of(ours, 3) / iters
    print(f"    N={n:>9,d}: scikit-learn {t_sk * 1e3:8.1f} ms/it   emviz ({device}) {t_ours * 1e3:8.1f} ms/it"
          f"   ratio {t_sk / t_ours:5.1f}x")
    return t_sk / t_ours


def bench_recorder_overhead(n: int, iters: int, device: str) -> None:
    X, init = blobs(n)

    def bare():
        GaussianMixture(5, init=init, tol=0, max_iter=iters, device=device).fit(X)

    def recorded():
        Recorder(GaussianMixture(5, init=init, tol=0, max_iter=iters, device=device), progress=False).run(X)

    bare()
    t_bare = best_of(bare, 3)
    t_rec = best_of(recorded, 3)
    print(f"\n[3] recorder overhead at N={n:,d}, {iters} iterations: bare fit {t_bare:.3f} s, recorded {t_rec:.3f} s,"
          f" overhead {100 * (t_rec / t_bare - 1):+.1f}% (target <= 10%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer iterations, for a smoke run")
    args = parser.parse_args()
    print(f"emviz {emviz.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    bench_notebook(args.device, 200 if args.quick else 1000)
    print("\n[2] emviz vs scikit-learn fit, D=2, K=5, full, float64")
    bench_vs_sklearn(100_000, 10 if args.quick else 30, args.device)
    bench_vs_sklearn(1_000_000, 3 if args.quick else 10, args.device)
    bench_recorder_overhead(1_000_000, 3 if args.quick else 10, args.device)


if __name__ == "__main__":
    main()
