"""`python -m tools bench serve`: the prediction service under a bounded load, against the bare predictor.

Three processes: `sentinel serve` on 127.0.0.1 (a free port), a load generator (``clients``
concurrent HTTP clients posting ``size`` x ``size`` before/after pairs, a fixed number of requests
after a warm-up round), and, separately, the bare predictor: the same function the service runs,
``planet_sentinel.predict.predict_scene``, called directly on the same files with the same worker
threads and torch threads, no HTTP. Prints p50/p99 latency, requests/s, errors, the server's peak
RSS, its RSS after warm-up and its median RSS in every round (growth: the later rounds' median
against the earlier rounds'), and the ratio of service to bare throughput.
Goals: ratio >= 0.8, p99 <= 3 x p50, no RSS growth after warm-up, 0 errors.

The model is a freshly initialised network of the demo's size (base 8): speed does not depend on
the weights. The pairs are tiles of the chip benchmark's simulated scene (cached in the workdir).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tools.bench.chip import ensure_scene
from tools.bench.measure import default_workdir, peak_rss_mb, run_phase

DEFAULT_SIZE = 256
TILES_PER_SIDE = 4


def prepare(work: Path, size: int, base: int) -> tuple[Path, list[tuple[Path, Path]]]:
    """A model bundle file and TILES_PER_SIDE^2 distinct before/after pairs of ``size`` px."""
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    from planet_sentinel.raster import Grid, band_names, open_raster, scene_writer
    from tools.bench.predict import _bundle

    scene = ensure_scene(work, size * TILES_PER_SIDE)
    model = _bundle(base).save(work / f"serve-model-base{base}.pt")
    pairs_dir = work / f"serve-pairs-{size}"
    pairs_dir.mkdir(exist_ok=True)
    pairs = []
    for row in range(TILES_PER_SIDE):
        for col in range(TILES_PER_SIDE):
            paths = tuple(pairs_dir / f"{row}_{col}_{d}.tif" for d in ("before", "after"))
            if not all(p.exists() for p in paths):
                window = Window(col * size, row * size, size, size)
                for date, path in zip(("before", "after"), paths, strict=True):
                    with open_raster(scene[date]) as src:
                        grid = Grid(src.crs, window_transform(window, src.transform), size, size)
                        data, bands = src.read(window=window), band_names(src)
                    with scene_writer(path, grid, bands) as writer:
                        writer.write(data)
            pairs.append(paths)
    return model, pairs


def _threads(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def bare_phase(model: str, pairs_json: str, requests: str, workers: str) -> dict[str, Any]:
    """The predictor alone: predict_scene over the same pairs, ``workers`` threads, as the service runs it."""
    import torch

    from planet_sentinel.bundle import load_bundle
    from planet_sentinel.predict import predict_scene

    pairs = json.loads(pairs_json)
    n, w = int(requests), int(workers)
    bundle = load_bundle(model)
    bundle.model.eval()

    def one(i: int) -> None:
        before, after = pairs[i % len(pairs)]
        with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
            predict_scene(bundle, before, after, tmp, name="upload", quicklook=False)

    with ThreadPoolExecutor(w, initializer=torch.set_num_threads, initargs=(_threads(w),)) as pool:
        list(pool.map(one, range(w)))  # warm-up, as the service gets
        cpu = _cpu_s(os.getpid())
        start = time.perf_counter()
        list(pool.map(one, range(n)))
        seconds = time.perf_counter() - start
        cpu = _cpu_s(os.getpid()) - cpu
    return {
        "seconds": seconds,
        "req_per_s": n / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "cpu_ms_per_request": 1000 * cpu / n,
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


BOUNDARY = "planet-sentinel-bench"


def _multipart(files: dict[str, bytes]) -> bytes:
    """A multipart/form-data body with one TIFF per field."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.tif"\r\n'
        f"Content-Type: image/tiff\r\n\r\n".encode()
        + data
        + b"\r\n"
        for name, data in files.items()
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def load_phase(url: str, pid: str, pairs_json: str, requests: str, clients: str, warmup: str) -> dict[str, Any]:
    """``clients`` concurrent clients post ``requests`` pairs, after ``warmup`` untimed requests.

    Each client is a keep-alive ``http.client`` connection sending request bodies encoded once,
    as load generators do, so the client's own CPU (it shares the machine) stays small.
    """
    from http.client import HTTPConnection
    from urllib.parse import urlsplit

    import numpy as np

    bodies = [
        _multipart({"before": Path(b).read_bytes(), "after": Path(a).read_bytes()}) for b, a in json.loads(pairs_json)
    ]
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    address = urlsplit(url)
    server = int(pid)
    lock = threading.Lock()
    results: list[tuple[int, float, dict[str, float]]] = []

    def post(http: HTTPConnection, i: int) -> None:
        start = time.perf_counter()
        http.request("POST", "/predict", body=bodies[i % len(bodies)], headers=headers)
        response = http.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        steps = json.loads(body)["timings_s"] if response.status == 200 else {}
        with lock:
            results.append((response.status, elapsed, steps))

    def run_clients(n: int) -> None:
        counter = iter(range(n))

        def client() -> None:
            http = HTTPConnection(address.hostname, address.port, timeout=300)
            try:
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    post(http, i)
            finally:
                http.close()

        threads = [threading.Thread(target=client) for _ in range(int(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run_clients(int(warmup))
    results.clear()
    samples = [_rss_mb(server)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            samples.append(_rss_mb(server))

    sampler = threading.Thread(target=sample)
    sampler.start()
    server_cpu, own_cpu = _cpu_s(server), _cpu_s(os.getpid())
    start = time.perf_counter()
    run_clients(int(requests))
    seconds = time.perf_counter() - start
    server_cpu, own_cpu = _cpu_s(server) - server_cpu, _cpu_s(os.getpid()) - own_cpu
    done.set()
    sampler.join()
    return {
        "seconds": seconds,
        "statuses": [r[0] for r in results],
        "latencies": [r[1] for r in results],
        "steps": [r[2] for r in results if r[2]],
        "rss_start_mb": samples[0],
        "rss_median_mb": float(np.median(samples)),
        "rss_max_mb": max(samples),
        "rss_end_mb": _rss_mb(server),
        "server_peak_rss_mb": _rss_mb(server, "VmHWM"),
        "server_cpu_s": server_cpu,
        "client_cpu_s": own_cpu,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(model: Path, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = _free_port()
    sentinel = str(Path(sys.executable).parent / "sentinel")
    command = [sentinel, "serve", "--model", str(model), "--port", str(port), "--workers", str(workers)]
    command += ["--queue", "64", "--reload-interval-s", "0", "--log-level", "warning"]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "SENTINEL_QUIET": "1"}
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"sentinel serve did not become ready:\n{log.read_text()[-4000:]}")


def run(
    size: int | None = None,
    workdir: str | None = None,
    requests: int = 144,
    clients: int = 8,
    workers: int = 2,
    rounds: int = 6,
    base: int = 8,
    **_: Any,
) -> dict[str, Any]:
    """Warm the server up, then ``rounds`` x (bare predictor, service) on ``requests / rounds`` pairs each.

    Interleaving the two in rounds keeps a change in the machine's other load from favouring
    either side; throughputs are totals over the rounds. RSS is read after the warm-up and at the
    end of every round: a plateau means no growth.
    """
    import numpy as np

    size = size or DEFAULT_SIZE
    work = Path(workdir) if workdir else default_workdir(f"chip-{size * TILES_PER_SIDE}")
    work.mkdir(parents=True, exist_ok=True)
    model, pairs = prepare(work, size, base)
    pairs_json = json.dumps([[str(b), str(a)] for b, a in pairs])
    per_round = max(1, requests // rounds)
    bare: list[dict[str, Any]] = []
    load: list[dict[str, Any]] = []
    proc, url = _start_server(model, workers, work / "serve-bench.log")
    try:
        phase = ("tools.bench.serve", "load", url, str(proc.pid), pairs_json)
        warm = run_phase(*phase, "0", str(clients), str(16 * clients))  # the allocator settles too
        for _ in range(rounds):
            bare.append(run_phase("tools.bench.serve", "bare", str(model), pairs_json, str(per_round), str(workers)))
            load.append(run_phase(*phase, str(per_round), str(clients), "0"))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # never leave a server behind
            proc.kill()
            proc.wait(timeout=30)
    n = per_round * rounds
    statuses = [s for r in load for s in r["statuses"]]
    latencies = np.array([x for r in load for x in r["latencies"]]) * 1000
    steps = [s for r in load for s in r["steps"]]
    service_s, bare_s = sum(r["seconds"] for r in load), sum(r["seconds"] for r in bare)
    p50, p99 = float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))
    # RSS under load moves by tens of MB with the allocator; a leak is a trend: the median RSS of the
    # later rounds against that of the earlier ones (each round's median of 10 samples a second).
    rss_warm, rss_rounds = warm["rss_end_mb"], [round(r["rss_median_mb"], 1) for r in load]
    half = max(1, rounds // 2)
    growth = float(np.median(rss_rounds[-half:]) - np.median(rss_rounds[:half])) if rounds > 1 else 0.0
    result = {
        "bench": "serve",
        "pair_px": size,
        "clients": clients,
        "requests": n,
        "rounds": rounds,
        "workers": workers,
        "torch_threads_per_worker": _threads(workers),
        "errors": sum(s != 200 for s in statuses),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "p99_over_p50": round(p99 / p50, 2),
        "req_per_s": round(n / service_s, 2),
        "bare_req_per_s": round(n / bare_s, 2),
        "ratio_to_bare": round(bare_s / service_s, 3),
        "ratio_per_round": [round(b["seconds"] / s["seconds"], 3) for b, s in zip(bare, load, strict=True)],
        "server_cpu_ms_per_request": round(1000 * sum(r["server_cpu_s"] for r in load) / n, 1),
        "client_cpu_ms_per_request": round(1000 * sum(r["client_cpu_s"] for r in load) / n, 1),
        "bare_cpu_ms_per_request": round(float(np.mean([b["cpu_ms_per_request"] for b in bare])), 1),
        "server_steps_ms": {k: round(1000 * float(np.mean([s.get(k, 0) for s in steps])), 1) for k in steps[0]},
        "server_peak_rss_mb": round(max(r["server_peak_rss_mb"] for r in load), 1),
        "rss_after_warmup_mb": round(rss_warm, 1),
        "rss_median_each_round_mb": rss_rounds,
        "rss_end_mb": round(load[-1]["rss_end_mb"], 1),
        "rss_max_during_run_mb": round(max(r["rss_max_mb"] for r in load), 1),
        "rss_growth_mb": round(growth, 1),
        "bare_peak_rss_mb": round(max(b["peak_rss_mb"] for b in bare), 1),
        "model_base": base,
        "goal": {"ratio_to_bare": 0.8, "p99_over_p50": 3.0, "errors": 0, "rss_growth_mb": 25},
    }
    result["meets_goal"] = (
        result["ratio_to_bare"] >= 0.8 and result["p99_over_p50"] <= 3.0 and result["errors"] == 0 and growth <= 25
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    phase, *rest = sys.argv[1:]
    figures = bare_phase(*rest) if phase == "bare" else load_phase(*rest)
    print(json.dumps(figures))
