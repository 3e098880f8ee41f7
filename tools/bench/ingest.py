"""`python -m tools bench ingest`: the overhead of the Earth Engine ingest over bare transfer.

An emulated 100 km2 AOI (``--size`` is the AOI side in 10 m pixels; 1000 px = 10 km) is
ingested through the real earthengine-api client. The Earth Engine emulator runs in its own
process, as a server would, and holds each computePixels answer as long as a server computing
it would (``LATENCY_S`` plus the bytes at ``THROUGHPUT_MB_S`` per request). Then the very same
computePixels requests are replayed with a bare HTTP client at the same concurrency, nothing
else done: that is the floor. Prints requests, bytes, wall time, the phases, and ``ratio`` =
ingest wall time / bare transfer time: what session set-up, tiling, tile checks, retries and
mosaicking into COGs add. Goal: <= 1.3.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from tools.bench.measure import default_workdir, peak_rss_mb, stop_process

DEFAULT_SIZE = 1000
MARGIN = 64
#: A computePixels answer's cost on the emulated server: fixed latency plus bytes at this rate.
LATENCY_S = 0.5
THROUGHPUT_MB_S = 8.0
WORKERS = 4
SEED = 5
ENV_KEYS = ("EARTHENGINE_API_URL", "STORAGE_EMULATOR_HOST", "EARTHENGINE_SERVICE_ACCOUNT_KEY")


def _start_emulator(work: Path, scene_size: int) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    env_file = work / "emulator.env"
    env_file.unlink(missing_ok=True)
    args = [
        sys.executable, "-m", "tools", "ee", "serve", "--scene-dir", str(work / "scene"), "--size", str(scene_size),
        "--seed", str(SEED), "--latency-s", str(LATENCY_S), "--throughput-mb-s", str(THROUGHPUT_MB_S), "--keep-bodies",
        "--env-file", str(env_file),
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(args, cwd=root, stdout=subprocess.DEVNULL, env={**os.environ, "SENTINEL_QUIET": "1"})
    deadline = time.monotonic() + 300
    while not env_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"the Earth Engine emulator did not start (exit {proc.returncode})")
        time.sleep(0.1)
    env = {}
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = shlex.split(value)[0]
    return proc, env


def _token(key_json: str) -> str:
    """An access token for the service-account key, from the emulator's token endpoint."""
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    # google-auth ships no type hints for this constructor
    creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        json.loads(key_json), scopes=["https://www.googleapis.com/auth/earthengine"]
    )
    creds.refresh(Request())
    return str(creds.token)


def _bare_transfer(url: str, token: str, bodies: list[str], workers: int) -> tuple[float, int]:
    """Replay computePixels bodies with plain HTTP at the same concurrency; (seconds, bytes)."""
    import requests

    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def one(body: str) -> int:
        resp = session.post(f"{url}/v1/projects/emulated-project/image:computePixels", data=body, headers=headers)
        resp.raise_for_status()
        return len(resp.content)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(one, bodies))
    return time.perf_counter() - start, total


def run(size: int | None = None, workdir: str | None = None) -> dict[str, Any]:
    """Ingest an emulated AOI of ``size`` x ``size`` px and compare with bare transfer."""
    import requests

    from planet_sentinel.raster import Grid
    from planet_sentinel.sources.gee import IngestConfig, ingest
    from tools.emulators.earthengine import aoi_over, source_paths

    size = size or DEFAULT_SIZE
    work = Path(workdir) if workdir else default_workdir("ingest")
    work.mkdir(parents=True, exist_ok=True)
    scene_size = max(256, size + 2 * MARGIN)
    proc, env = _start_emulator(work, scene_size)
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        os.environ.update(env)
        url = env["EARTHENGINE_API_URL"]
        aoi = work / "aoi.geojson"
        grid = Grid.read(source_paths(work / "scene", scene_size, SEED)["before"])
        aoi.write_text(json.dumps(aoi_over(grid, MARGIN, MARGIN, MARGIN + size, MARGIN + size)))
        cfg = IngestConfig(
            project="emulated-project",
            aoi=str(aoi),
            name="bench",
            before=(date(2024, 1, 1), date(2024, 1, 31)),
            after=(date(2024, 11, 1), date(2024, 11, 30)),
            out_dir=str(work / "raw"),
            workers=WORKERS,
        )
        summary = ingest(cfg, overwrite=True)
        record = requests.get(f"{url}/_emulator/requests", timeout=60).json()
        bodies = [b["body"] for b in record["bodies"] if b["method"] == "image:computePixels"]
        token = _token(env["EARTHENGINE_SERVICE_ACCOUNT_KEY"])
        bare_s, bare_bytes = _bare_transfer(url, token, bodies, WORKERS)
    finally:
        stop_process(proc)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    download = summary.download or {}
    result = {
        "bench": "ingest",
        "aoi_km2": summary.plan["area_km2"],
        "grid": f"{summary.plan['grid']['width']}x{summary.plan['grid']['height']}",
        "tile_px": summary.plan["tile_px"],
        "requests": download["requests"],
        "bytes": download["bytes"],
        "wall_s": summary.seconds,
        "phases_s": summary.timings,
        "bare_transfer_s": round(bare_s, 3),
        "bare_requests": len(bodies),
        "bare_bytes": bare_bytes,
        "ratio": round(summary.seconds / bare_s, 3),
        "goal_ratio": 1.3,
        "emulated_server": {"latency_s": LATENCY_S, "throughput_mb_s": THROUGHPUT_MB_S, "workers": WORKERS},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    print(json.dumps(result))
    return result
