"""Benchmark emviz's EM side by side with the alternatives, in one run, and print ratios.

1. ``notebook``: the docs notebook's data (1D, N = 6000, K = 3, 1000 iterations): emviz recording every
   iteration (``Recorder(GaussianMixture)``: set-up, the steps and the trace) vs the notebook's way,
   which refits a fresh one-iteration model per step and then asks it for the responsibilities and the
   log-likelihood (with the PyTorch GMM package ``tgmm`` when it is installed, else scikit-learn
   warm-start stepping). The notebook's loop runs on torch's default thread count, as a notebook does,
   and on one thread; a short probe picks the faster of the two, and the ratio is taken against it.
   The runs of both sides are interleaved, so that a change of the machine's load hits both.
2. ``sklearn``: emviz vs scikit-learn's plain ``fit``, time per iteration, at N = 10^5 and 10^6 (D = 2,
   K = 5, full, float64), from the same explicit start.
3. ``recorder``: a recorded fit vs a bare ``fit`` at N = 10^6.

The first lines say which torch build runs (version, CUDA build or not, CPU instruction set, threads)
and from which Python environment: the README's ``pip install -e .`` gets whatever torch pip resolves
(on a machine without torch, often a CUDA build, whose per-op overhead on the CPU differs from the CPU
build's), so figures of two environments can be told apart. ``--ops`` also counts the tensor ops that
one recorded EM step launches, and its host reads (torch.profiler).

Usage::

    python scripts/bench_em.py                       # everything (a few minutes on 2 cores)
    python scripts/bench_em.py --quick               # smoke run: 200 iterations, fewer repeats
    python scripts/bench_em.py --only notebook --repeats 5 --ops
    python scripts/bench_em.py --device cuda

Not a test: timings depend on the machine and on what else runs on it (the load average is printed at
the start and the end); the ratios, measured in one run, are the point. Sections whose reference
package is missing (scikit-learn is a test extra) are skipped with a note.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch

import emviz
from emviz import GaussianMixture, Mixture, Recorder

NOTEBOOK_TARGET = 10.0  # emviz's recorded iterations/s over the notebook loop's
SKLEARN_TARGET = 1.0
RECORDER_TARGET = 0.10  # recording overhead over a bare fit


def best_of(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def describe_build(device: str) -> str:
    cuda = torch.version.cuda
    build = f"CUDA {cuda} build" if cuda else ("ROCm build" if getattr(torch.version, "hip", None) else "CPU build")
    avail = f", CUDA available ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ", no CUDA device"
    return (f"torch {torch.__version__} ({build}{avail}), CPU {torch.backends.cpu.get_cpu_capability()}, "
            f"{torch.get_num_threads()} threads; emviz {emviz.__version__}; device {device}\n"
            f"python {sys.version.split()[0]} at {sys.prefix}")


def has(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# ------------------------------------------------------------------------- 1. the docs notebook's loop
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


def count_ops(device: str, n_steps: int = 20) -> tuple[float, float]:
    """Top-level tensor ops and host reads (``aten::_local_scalar_dense``) per recorded EM step."""
    from torch.profiler import ProfilerActivity, profile

    from emviz.recorder import _Record

    X, init = docs_data()
    gm = GaussianMixture(3, init=init, max_iter=1000, tol=0, device=device).initialize(X)
    rows, record = torch.arange(500, device=gm.device), _Record()
    with gm.threads(), torch.inference_mode():
        for t in range(8):  # past the first steps' one-off work
            record.record(t, gm.step(), rows)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for t in range(8, 8 + n_steps):
                record.record(t, gm.step(), rows)
    events = prof.events()
    top = [e for e in events if e.cpu_parent is None and e.name.startswith("aten::")]
    reads = [e for e in events if e.name == "aten::_local_scalar_dense"]
    return len(top) / n_steps, len(reads) / n_steps


def bench_notebook(device: str, n_steps: int, repeats: int, ops: bool) -> dict:
    X, init = docs_data()
    if has("tgmm"):
        way, name = notebook_way_tgmm, "tgmm refit per step (the notebook's way)"
    elif has("sklearn"):
        way, name = notebook_way_sklearn, "scikit-learn warm-start stepping (tgmm not installed)"
    else:
        way, name = None, None

    def ours():
        Recorder(GaussianMixture(3, init=init, max_iter=n_steps, tol=0, device=device),
                 resp_points=500, progress=False).run(X)

    ours()  # warm-up (first CUDA context, allocator, lazy imports)
    default_threads = torch.get_num_threads()

    def ref(n, threads):
        torch.set_num_threads(threads)
        try:
            return best_of(lambda: way(X, init, n), 1)
        finally:
            torch.set_num_threads(default_threads)

    print(f"\n[1] docs notebook data: N=6000, K=3, D=1, {n_steps} iterations, every one recorded")
    t_ref, t_ours = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if way is None:
            print("    no reference: neither tgmm nor scikit-learn is installed")
        else:
            way(X, init, 2)  # warm-up (imports)
            # A notebook runs on torch's default threads; on a busy machine one thread can be several
            # times faster. A short probe of each picks the faster, which the full loop then runs on.
            probe = {th: 40 / ref(40, th) for th in sorted({default_threads, 1}, reverse=True)}
            for th, its in probe.items():
                print(f"    {name + f', {th} thread(s), 40-step probe':70s} {its:9.1f} it/s")
            threads = max(probe, key=probe.get)
            for _ in range(max(1, repeats // 2)):  # interleaved with emviz's runs: the same load for both
                t_ref.append(ref(n_steps, threads))
                t_ours.append(best_of(ours, 2))
            print(f"    {name + f', {threads} thread(s)':70s} {n_steps / min(t_ref):9.1f} it/s")
    t_ours.append(best_of(ours, repeats))
    best = min(t_ours)
    result = {"ours_its": n_steps / best}
    print(f"    {'emviz Recorder(GaussianMixture), ' + device:70s} {n_steps / best:9.0f} it/s"
          f"   (median of {len(t_ours)} batches {n_steps / float(np.median(t_ours)):.0f})")
    if ops:
        n_ops, n_reads = count_ops(device)
        print(f"    one recorded EM step launches {n_ops:.1f} tensor ops and reads the device {n_reads:.2f} times"
              " (the moments path's conditioning check, every 4 steps)")
        result["ops_per_step"] = n_ops
    if way is not None:
        t_ref_best = min(t_ref)
        result["ratio"] = t_ref_best / best
        result["ref_its"] = n_steps / t_ref_best
        print(f"    ratio: emviz is {result['ratio']:.1f}x faster than the notebook loop"
              f" (target >= {NOTEBOOK_TARGET:.0f}x)")
    return result


# ------------------------------------------------------------------------- 2. scikit-learn's fit
def blobs(n: int, seed: int = 0):
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-10, 10, (5, 2))
    labels = rng.randint(0, 5, n)
    X = centres[labels] + rng.standard_normal((n, 2)) * rng.uniform(0.5, 2.0, (5, 1))[labels]
    init = Mixture(np.full(5, 0.2), centres + rng.standard_normal((5, 2)), np.broadcast_to(np.eye(2) * 4, (5, 2, 2)))
    return X, init


def bench_vs_sklearn(n: int, iters: int, device: str, repeats: int) -> float:
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
    t_sk = best_of(sk_fit, max(1, repeats - 1)) / iters
    t_ours = best_of(ours, repeats) / iters
    print(f"    N={n:>9,d}: scikit-learn {t_sk * 1e3:8.1f} ms/it   emviz ({device}) {t_ours * 1e3:8.1f} ms/it"
          f"   ratio {t_sk / t_ours:5.1f}x")
    return t_sk / t_ours


# ------------------------------------------------------------------------- 3. the recorder's overhead
def bench_recorder_overhead(n: int, iters: int, device: str, repeats: int) -> float:
    X, init = blobs(n)

    def bare():
        GaussianMixture(5, init=init, tol=0, max_iter=iters, device=device).fit(X)

    def recorded():
        Recorder(GaussianMixture(5, init=init, tol=0, max_iter=iters, device=device), progress=False).run(X)

    bare()
    t_bare = best_of(bare, repeats)
    t_rec = best_of(recorded, repeats)
    overhead = t_rec / t_bare - 1
    print(f"\n[3] recorder overhead at N={n:,d}, {iters} iterations: bare fit {t_bare:.3f} s, recorded {t_rec:.3f} s,"
          f" overhead {100 * overhead:+.1f}% (target <= {100 * RECORDER_TARGET:.0f}%)")
    return overhead


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer iterations and repeats, for a smoke run")
    parser.add_argument("--only", default="notebook,sklearn,recorder",
                        help="comma-separated sections: notebook, sklearn, recorder")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per variant, the best counts (default 4; 2 with --quick)")
    parser.add_argument("--ops", action="store_true", help="also count the tensor ops of one EM step (profiler)")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - {"notebook", "sklearn", "recorder"}
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}")
    repeats = args.repeats or (2 if args.quick else 4)
    load_start = load()
    print(describe_build(args.device))
    print(f"load average at the start: {load_start}")
    summary = []
    if "notebook" in only:
        res = bench_notebook(args.device, 200 if args.quick else 1000, repeats, args.ops)
        if "ratio" in res:
            summary.append((f"docs data, {200 if args.quick else 1000} recorded iterations vs the notebook loop",
                            f"{res['ratio']:.1f}x", f">= {NOTEBOOK_TARGET:.0f}x", verdict(res["ratio"] >= NOTEBOOK_TARGET)))
    sklearn_sections = only & {"sklearn", "recorder"}
    if sklearn_sections and not has("sklearn"):
        print("\n[2], [3] skipped: scikit-learn is not installed (pip install -e '.[test]')")
    else:
        if "sklearn" in only:
            print("\n[2] emviz vs scikit-learn fit, D=2, K=5, full, float64")
            for n, iters in ((100_000, 10 if args.quick else 30), (1_000_000, 3 if args.quick else 10)):
                ratio = bench_vs_sklearn(n, iters, args.device, repeats)
                summary.append((f"one EM iteration at N={n:,d} vs scikit-learn's fit", f"{ratio:.1f}x",
                                f">= {SKLEARN_TARGET:.0f}x", verdict(ratio >= SKLEARN_TARGET)))
        if "recorder" in only:
            overhead = bench_recorder_overhead(1_000_000, 3 if args.quick else 10, args.device, repeats)
            summary.append(("recording every iteration at N=1,000,000", f"{100 * overhead:+.0f}%",
                            f"<= {100 * RECORDER_TARGET:.0f}%", verdict(overhead <= RECORDER_TARGET)))
    if summary:
        print(f"\nsummary (torch {torch.__version__}{', CUDA ' + torch.version.cuda if torch.version.cuda else ''},"
              f" device {args.device}):")
        for what, value, target, ok in summary:
            print(f"    {ok}  {what:62s} {value:>8s}  (target {target})")
    print(f"load average at the start: {load_start}; at the end: {load()}")


if __name__ == "__main__":
    main()
