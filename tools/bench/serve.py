"""`python -m tools bench serve`: the prediction service under a bounded load, against the bare predictor.

Three processes: `sentinel serve` on 127.0.0.1 (a free port), a load generator (``clients``
concurrent HTTP clients posting ``size`` x ``size`` before/after pairs, a fixed number of requests
after a warm-up round), and, separately, the bare predictor: the same function the service runs,
``planet_sentinel.predict.predict_scene``, called directly on the same files with the same worker
threads and torch threads, no HTTP. Prints p50/p99 latency, requests/s, errors, the server's peak
RSS, its RSS after warm-up and its median RSS in every round (growth: the later rounds' median
against the earlier rounds'), and the ratio of service to bare throughput.
Goals: ratio >= 0.9 (#14, with ONNX Runtime), p99 <= 3 x p50, no RSS growth after warm-up, 0 errors.

The model is a freshly initialised network of the demo's size (base 8): speed does not depend on
the weights. The pairs are tiles of the chip benchmark's simulated scene (cached in the workdir).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tools.bench.chip import ensure_scene
from tools.bench.measure import (
    Sampler,
    default_workdir,
    emit,
    peak_rss_mb,
    phase_main,
    run_phase,
    status_mb,
    stop_process,
)

DEFAULT_SIZE = 256
TILES_PER_SIDE = 4


def prepare(work: Path, size: int, base: int) -> tuple[Path, list[tuple[Path, Path]]]:
    """A model bundle file and TILES_PER_SIDE^2 distinct before/after pairs of ``size`` px."""
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    from planet_sentinel.raster import Grid, band_names, open_raster, scene_writer
    from tools.bench.predict import demo_bundle

    scene = ensure_scene(work, size * TILES_PER_SIDE)
    from planet_sentinel.onnx_export import export_graph, graph_path

    bundle = demo_bundle(base)
    model = bundle.save(work / f"serve-model-base{base}.pt")
    if not graph_path(model).is_file():  # the graph beside the bundle: the service (auto) runs it
        export_graph(bundle, graph_path(model))
    pairs_dir = work / f"serve-pairs-{size}"
    pairs_dir.mkdir(exist_ok=True)
    pairs = []
    for row in range(TILES_PER_SIDE):
        for col in range(TILES_PER_SIDE):
            paths = (pairs_dir / f"{row}_{col}_before.tif", pairs_dir / f"{row}_{col}_after.tif")
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
    """The predictor alone: predict_scene over the same pairs, ``workers`` threads, on the engine the
    service picks for the same file (auto: the ONNX graph beside the bundle), as the service runs it."""
    import sys

    from planet_sentinel.predict import predict_scene
    from planet_sentinel.predict.loading import load_predictor

    pairs = json.loads(pairs_json)
    n, w = int(requests), int(workers)
    bundle = load_predictor(model, threads=_threads(w))

    def set_threads(threads: int) -> None:
        torch = sys.modules.get("torch")  # as the service's workers: PyTorch threads when it runs the model
        if torch is not None and bundle.engine == "torch":
            torch.set_num_threads(threads)

    def one(i: int) -> None:
        before, after = pairs[i % len(pairs)]
        with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
            predict_scene(bundle, before, after, tmp, name="upload", quicklook=False, engine=bundle.engine)

    with ThreadPoolExecutor(w, initializer=set_threads, initargs=(_threads(w),)) as pool:
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
        "engine": bundle.engine,
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


class _Clients:
    """Concurrent keep-alive clients posting request bodies encoded once, as load generators do,
    so the client's own CPU (it shares the machine) stays small."""

    def __init__(self, url: str, bodies: list[bytes], clients: int) -> None:
        address = urlsplit(url)
        self.host, self.port = address.hostname or "127.0.0.1", address.port
        self.bodies, self.clients = bodies, clients
        self.headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        self.lock = threading.Lock()
        self.results: list[tuple[int, float, dict[str, float]]] = []

    def _post(self, http: HTTPConnection, i: int) -> None:
        start = time.perf_counter()
        http.request("POST", "/predict", body=self.bodies[i % len(self.bodies)], headers=self.headers)
        response = http.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        steps = json.loads(body)["timings_s"] if response.status == 200 else {}
        with self.lock:
            self.results.append((response.status, elapsed, steps))

    def run(self, n: int) -> None:
        """Post ``n`` requests, shared out among the clients as each becomes free."""
        counter = iter(range(n))

        def client() -> None:
            http = HTTPConnection(self.host, self.port, timeout=300)
            try:
                while True:
                    with self.lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    self._post(http, i)
            finally:
                http.close()

        threads = [threading.Thread(target=client) for _ in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def load_phase(url: str, pid: str, pairs_json: str, requests: str, clients: str, warmup: str) -> dict[str, Any]:
    """``clients`` concurrent clients post ``requests`` pairs, after ``warmup`` untimed requests;
    the server's RSS is sampled 10 times a second meanwhile."""
    import numpy as np

    bodies = [
        _multipart({"before": Path(b).read_bytes(), "after": Path(a).read_bytes()}) for b, a in json.loads(pairs_json)
    ]
    server = int(pid)
    load = _Clients(url, bodies, int(clients))
    load.run(int(warmup))
    load.results.clear()
    with Sampler(lambda: status_mb("VmRSS", server), 0.1, final=False) as rss:
        server_cpu, own_cpu = _cpu_s(server), _cpu_s(os.getpid())
        start = time.perf_counter()
        load.run(int(requests))
        seconds = time.perf_counter() - start
        server_cpu, own_cpu = _cpu_s(server) - server_cpu, _cpu_s(os.getpid()) - own_cpu
    results, samples = load.results, rss.samples
    return {
        "seconds": seconds,
        "statuses": [r[0] for r in results],
        "latencies": [r[1] for r in results],
        "steps": [r[2] for r in results if r[2]],
        "rss_start_mb": samples[0],
        "rss_median_mb": float(np.median(samples)),
        "rss_max_mb": max(samples),
        "rss_end_mb": status_mb("VmRSS", server),
        "server_peak_rss_mb": status_mb("VmHWM", server),
        "server_cpu_s": server_cpu,
        "client_cpu_s": own_cpu,
    }


def _start_server(model: Path, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    from planet_sentinel.deploy.probe import ProbeError, wait_ready
    from planet_sentinel.deploy.rollout import free_port

    port = free_port("127.0.0.1")
    sentinel = str(Path(sys.executable).parent / "sentinel")
    command = [sentinel, "serve", "--model", str(model), "--port", str(port), "--workers", str(workers)]
    command += ["--queue", "64", "--reload-interval-s", "0", "--log-level", "warning"]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "SENTINEL_QUIET": "1"}
        )
    url = f"http://127.0.0.1:{port}"
    try:  # the deploy's own readiness poll: a crashed server or a model that cannot load fails at once
        wait_ready(
            url, 120, alive=lambda: None if proc.poll() is None else f"exit status {proc.returncode}", interval=0.1
        )
    except ProbeError as exc:
        proc.kill()
        raise SystemExit(f"sentinel serve did not become ready ({exc}):\n{log.read_text()[-4000:]}") from exc
    return proc, url


def _rounds(
    model: Path, pairs_json: str, work: Path, per_round: int, clients: int, workers: int, rounds: int
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The server warmed up, then ``rounds`` x (bare predictor, service): (warm-up, bare rounds, load rounds)."""
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
        stop_process(proc)
    return warm, bare, load


def _rss_growth(rss_rounds: list[float], rounds: int) -> float:
    """RSS under load moves by tens of MB with the allocator; a leak is a trend: the median RSS of the
    later rounds against that of the earlier ones (each round's median of 10 samples a second)."""
    import numpy as np

    half = max(1, rounds // 2)
    return float(np.median(rss_rounds[-half:]) - np.median(rss_rounds[:half])) if rounds > 1 else 0.0


def _latency_figures(load: list[dict[str, Any]], bare: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """Errors, latency percentiles, throughputs and CPU per request, service against bare."""
    import numpy as np

    statuses = [s for r in load for s in r["statuses"]]
    latencies = np.array([x for r in load for x in r["latencies"]]) * 1000
    steps = [s for r in load for s in r["steps"]]
    service_s, bare_s = sum(r["seconds"] for r in load), sum(r["seconds"] for r in bare)
    p50, p99 = float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))
    return {
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
    }


def run(
    size: int | None = None,
    workdir: str | None = None,
    requests: int = 144,
    clients: int = 8,
    workers: int = 2,
    rounds: int = 6,
    base: int = 8,
) -> dict[str, Any]:
    """Warm the server up, then ``rounds`` x (bare predictor, service) on ``requests / rounds`` pairs each.

    Interleaving the two in rounds keeps a change in the machine's other load from favouring
    either side; throughputs are totals over the rounds. RSS is read after the warm-up and at the
    end of every round: a plateau means no growth.
    """
    size = size or DEFAULT_SIZE
    work = Path(workdir) if workdir else default_workdir(f"chip-{size * TILES_PER_SIDE}")
    work.mkdir(parents=True, exist_ok=True)
    model, pairs = prepare(work, size, base)
    pairs_json = json.dumps([[str(b), str(a)] for b, a in pairs])
    per_round = max(1, requests // rounds)
    warm, bare, load = _rounds(model, pairs_json, work, per_round, clients, workers, rounds)
    n = per_round * rounds
    rss_rounds = [round(r["rss_median_mb"], 1) for r in load]
    growth = _rss_growth(rss_rounds, rounds)
    result = {
        "bench": "serve",
        "pair_px": size,
        "clients": clients,
        "requests": n,
        "rounds": rounds,
        "workers": workers,
        "threads_per_worker": _threads(workers),
        "engine": bare[0]["engine"],
        "req_per_s_before_onnx": 13.6,  # #14's starting point: PyTorch, the same settings, this machine
        **_latency_figures(load, bare, n),
        "server_peak_rss_mb": round(max(r["server_peak_rss_mb"] for r in load), 1),
        "rss_after_warmup_mb": round(warm["rss_end_mb"], 1),
        "rss_median_each_round_mb": rss_rounds,
        "rss_end_mb": round(load[-1]["rss_end_mb"], 1),
        "rss_max_during_run_mb": round(max(r["rss_max_mb"] for r in load), 1),
        "rss_growth_mb": round(growth, 1),
        "bare_peak_rss_mb": round(max(b["peak_rss_mb"] for b in bare), 1),
        "model_base": base,
    }
    return emit(
        result,
        at_least={"ratio_to_bare": 0.9},
        at_most={"p99_over_p50": 3.0, "errors": 0, "rss_growth_mb": 25},
        exact={"rss_growth_mb": growth},
    )


if __name__ == "__main__":
    phase_main({"bare": bare_phase, "load": load_phase})
