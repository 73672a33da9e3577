"""Benchmark the scale path side by side, in one run: time per EM iteration and peak memory.

1. ``sizes``: N = 10^5, 10^6, 10^7 (D = 2, K = 5, full, float64): emviz unchunked, emviz chunked
   (``chunk_size`` 2^16 rows) and scikit-learn (its E-step + M-step, the same iteration), each in a
   fresh process whose peak resident memory (``VmHWM``) is read at the end. scikit-learn keeps (N, K)
   arrays and an (N, D) copy per component; the line after the table says at which N its peak would
   pass this machine's memory (extrapolated from its measured bytes per point).
2. ``gloo``: 1 process vs 2 gloo processes (``torch.distributed``, as ``torchrun`` starts them) at
   N = 10^6 and 10^7, each rank fitting its half; 1 process with 1 and with 2 threads.
3. ``mmap``: a float64 ``.npy`` of 2 * 10^7 x 2 (320 MB) rendered through the pipeline (``data.mmap``,
   5 recorded iterations, a trace and a still), peak resident memory against the data's size + 700 MB.
4. On a CUDA device (``--device cuda``): N = 10^7 and 10^8 in float32, the achieved memory bandwidth of
   the E+M step as a share of the GPU's peak (the bytes one step must read: X once per pass; the peak
   from ``--hbm-gbs``, default an H100 SXM's 3350 GB/s).

Usage::

    python scripts/bench_scale.py                   # everything (several minutes on 2 cores)
    python scripts/bench_scale.py --only sizes --sizes 1e5 1e6
    python scripts/bench_scale.py --only gpu --device cuda --hbm-gbs 4800   # H200

Not a test: the ratios, measured in one run on one machine, are the point; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
K, D = 5, 2
CHUNK = 1 << 16


def hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def blobs(n: int, seed: int = 0, rows=None, dtype=np.float64) -> np.ndarray:
    """K well-separated 2D blobs (a fixed mixture); ``rows``: only those rows of the same sample."""
    from emviz.mixture import Mixture

    rng = np.random.RandomState(1)
    means = rng.uniform(-10, 10, size=(K, D))
    truth = Mixture(np.full(K, 1 / K), means, np.stack([np.eye(D)] * K))
    sizes = [n // K + (1 if k < n % K else 0) for k in range(K)]
    X, _ = truth.sample(sizes, seed=seed, rows=rows)
    return X.astype(dtype)


def start(X):
    from emviz import Mixture

    rng = np.random.default_rng(0)
    return Mixture(np.full(K, 1 / K), X[rng.choice(len(X), K, replace=False)], np.stack([np.eye(D)] * K))


# ---------------------------------------------------------------------------------------------- cases
def case_emviz(n: int, chunk, steps: int, device: str, dtype: str) -> dict:
    import torch

    from emviz import GaussianMixture

    X = blobs(n)
    fitter = GaussianMixture(K, init=start(X), tol=0, max_iter=steps + 1, chunk_size=chunk, device=device, dtype=dtype)
    fitter.initialize(X)
    with fitter.threads():
        fitter.step()
        fitter.check()
        sync = torch.cuda.synchronize if fitter.device.type == "cuda" else (lambda: None)
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            fitter.step()
        fitter.check()
        sync()
        per = (time.perf_counter() - t0) / steps
    return {"iter_s": per, "peak_mb": hwm_mb(), "chunked": bool(fitter._streamed)}


def case_sklearn(n: int, steps: int) -> dict:
    from sklearn.mixture import GaussianMixture as SK

    X = blobs(n)
    init = start(X)
    gm = SK(K, covariance_type="full", max_iter=1, tol=0, weights_init=init.weights, means_init=init.means,
            precisions_init=np.linalg.inv(init.covariances))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, log_resp = gm._e_step(X)
        gm._m_step(X, log_resp)
    return {"iter_s": (time.perf_counter() - t0) / steps, "peak_mb": hwm_mb()}


def _rank(rank: int, world: int, port: int, n: int, steps: int, out: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    import torch
    import torch.distributed as dist

    from emviz import GaussianMixture
    from emviz.em.comm import TorchDistributed
    from emviz.rows import shard_bounds

    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    lo, hi = shard_bounds(n, world)[rank : rank + 2]
    X = blobs(n, rows=(lo, hi))
    init = start(blobs(min(n, 50_000)))  # any fixed start; the same on every rank
    fitter = GaussianMixture(K, init=init, tol=0, max_iter=steps + 1, chunk_size=CHUNK,
                             comm=TorchDistributed(torch.device("cpu")))
    fitter.initialize(X)
    fitter.step()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(steps):
        fitter.step()
    fitter.check()
    per = (time.perf_counter() - t0) / steps
    if rank == 0:
        Path(out).write_text(json.dumps({"iter_s": per, "peak_mb": hwm_mb()}))
    dist.destroy_process_group()


def case_gloo(n: int, world: int, steps: int) -> dict:
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        mp.spawn(_rank, args=(world, port, n, steps, str(out)), nprocs=world, join=True)
        return json.loads(out.read_text())


def case_mmap(n: int) -> dict:
    import emviz

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        path = Path(tmp) / "big.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, D))
        for lo in range(0, n, 1 << 20):
            hi = min(lo + (1 << 20), n)
            out[lo:hi] = blobs(n, rows=(lo, hi))
        out.flush()
        del out
        size_mb = path.stat().st_size / 2**20
        (Path(tmp) / "c.yaml").write_text(
            "data: {file: big.npy, mmap: true}\n"
            f"model: {{n_components: {K}, max_iter: 5, tol: 0, init: kmeans, init_sample: 200000}}\n"
            "record: {save: trace.npz, show_points: 20000, resp_points: 2000}\n"
            "outputs: [{path: final.png, panels: [ellipses]}]\n")
        t0 = time.perf_counter()
        emviz.run(Path(tmp) / "c.yaml", out=Path(tmp) / "out", progress=False)
        seconds = time.perf_counter() - t0
        trace = emviz.Trace.load(Path(tmp) / "out" / "trace.npz")
        return {"peak_mb": hwm_mb(), "data_mb": size_mb, "seconds": seconds, "recorded": trace.n_iter + 1}


def case_gpu_bandwidth(n: int, steps: int, hbm_gbs: float) -> dict:
    result = case_emviz(n, "auto", steps, "cuda", "float32")
    # One step reads X (N x D float32) in its pass; the (K, N) work arrays are written and read again
    # (log-densities, responsibilities): count those too, as the traffic the step must make.
    bytes_moved = n * (D * 4 + 4 * K * 4)
    result["gbs"] = bytes_moved / result["iter_s"] / 1e9
    result["share_of_peak"] = result["gbs"] / hbm_gbs
    return result


# ---------------------------------------------------------------------------------------------- driver
def run_case(*args: str, timeout: float = 1800) -> dict:
    """Run one case in a fresh process (its own peak memory); returns its JSON, or an error entry."""
    cmd = [sys.executable, __file__, "--case", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["killed"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:160]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt(r: dict, key: str = "iter_s") -> str:
    if "error" in r:
        return f"{'failed':>10}"
    return f"{r[key] * 1000:8.1f} ms" if key == "iter_s" else f"{r[key]:7.0f} MB"


def total_memory_mb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--only", choices=["sizes", "gloo", "mmap", "gpu"], action="append")
    p.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--hbm-gbs", type=float, default=3350.0)
    args = p.parse_args()
    if args.case:
        name, *rest = args.case
        if name == "emviz":
            chunk = rest[1] if rest[1] == "auto" else int(rest[1])
            out = case_emviz(int(rest[0]), chunk, args.steps, args.device, "float64")
        elif name == "sklearn":
            out = case_sklearn(int(rest[0]), args.steps)
        elif name == "gloo":
            out = case_gloo(int(rest[0]), int(rest[1]), args.steps)
        elif name == "threads":
            import torch

            torch.set_num_threads(int(rest[1]))
            out = case_emviz(int(rest[0]), CHUNK, args.steps, "cpu", "float64")
        elif name == "mmap":
            out = case_mmap(int(rest[0]))
        else:
            out = case_gpu_bandwidth(int(rest[0]), args.steps, args.hbm_gbs)
        print(json.dumps(out))
        return
    only = set(args.only or ["sizes", "gloo", "mmap"] + (["gpu"] if args.device.startswith("cuda") else []))
    import torch

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {total_memory_mb() / 1024:.1f} GiB, "
          f"load {os.getloadavg()[0]:.2f}; D={D}, K={K}, full, float64; per iteration = E-step + M-step")
    if "sizes" in only:
        print(f"\n{'N':>10} {'emviz':>12} {'chunked':>12} {'sklearn':>12}   {'peak: emviz':>12} {'chunked':>10} "
              f"{'sklearn':>10}   sklearn/emviz  sklearn/chunked")
        sk_bytes = []
        for n in map(int, args.sizes):
            plain = run_case("emviz", str(n), str(n), "--steps", str(args.steps), "--device", args.device)
            chunked = run_case("emviz", str(n), str(CHUNK), "--steps", str(args.steps), "--device", args.device)
            sk = run_case("sklearn", str(n), "--steps", str(max(1, args.steps - 1)))
            ratio = (lambda a, b: f"{a['iter_s'] / b['iter_s']:9.1f}x" if "error" not in a and "error" not in b
                     else "        -")
            print(f"{n:>10} {fmt(plain):>12} {fmt(chunked):>12} {fmt(sk):>12}   {fmt(plain, 'peak_mb'):>12} "
                  f"{fmt(chunked, 'peak_mb'):>10} {fmt(sk, 'peak_mb'):>10}   {ratio(sk, plain)}  {ratio(sk, chunked)}")
            if "error" not in sk:
                sk_bytes.append((n, sk["peak_mb"]))
        if len(sk_bytes) >= 2:
            (n0, m0), (n1, m1) = sk_bytes[0], sk_bytes[-1]
            per_point = (m1 - m0) / (n1 - n0) * 2**20
            limit = total_memory_mb() * 2**20 / per_point
            print(f"scikit-learn: {per_point:.0f} bytes per point at peak; this machine's memory "
                  f"({total_memory_mb() / 1024:.0f} GiB) ends it near N = {limit:.1e}; emviz chunked streams "
                  "past that (memory-mapped data: see mmap)")
    if "gloo" in only:
        print(f"\n{'N':>10} {'1 proc, 1 thr':>14} {'1 proc, 2 thr':>14} {'2 gloo procs':>13}   2 procs vs 1 proc 1 thr / 2 thr")
        for n in (10**6, 10**7):
            one = run_case("threads", str(n), "1", "--steps", str(args.steps))
            two_threads = run_case("threads", str(n), "2", "--steps", str(args.steps))
            two = run_case("gloo", str(n), "2", "--steps", str(args.steps))
            ok = all("error" not in r for r in (one, two_threads, two))
            ratios = (f"{one['iter_s'] / two['iter_s']:.2f}x / {two_threads['iter_s'] / two['iter_s']:.2f}x"
                      if ok else "-")
            print(f"{n:>10} {fmt(one):>14} {fmt(two_threads):>14} {fmt(two):>13}   {ratios}")
    if "mmap" in only:
        r = run_case("mmap", str(2 * 10**7))
        if "error" in r:
            print(f"\nmmap: {r['error']}")
        else:
            budget = r["data_mb"] + 700
            print(f"\nmmap: {r['data_mb']:.0f} MB float64 .npy, {r['recorded']} recorded iterations + trace + still in "
                  f"{r['seconds']:.1f} s; peak resident {r['peak_mb']:.0f} MB vs data + 700 MB = {budget:.0f} MB: "
                  f"{'OK' if r['peak_mb'] < budget else 'MISS'}")
    if "gpu" in only:
        if not args.device.startswith("cuda"):
            print("\ngpu: not measured (no --device cuda)")
        else:
            for n in (10**7, 10**8):
                r = run_case("gpu", str(n), "--steps", "10")
                print(f"\ngpu N={n:.0e} float32: " + (r["error"] if "error" in r else
                      f"{r['iter_s'] * 1000:.2f} ms/iteration, {r['gbs']:.0f} GB/s = {r['share_of_peak']:.0%} of "
                      f"{args.hbm_gbs:.0f} GB/s ({'chunked' if r['chunked'] else 'unchunked'})"))
    print(f"\nload {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
