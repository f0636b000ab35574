"""Fan-out benchmark: one upstream reply to many viewers, Redis relay nodes against the in-memory relay.

One reply of ``--deltas`` text deltas (the mock API in its own process, paced at ``--rate``
deltas per second) goes to ``--viewers`` viewers (raw sockets, in two processes):

  redis   -- a producer process (``publish()`` into a private ``redis-server``) and two relay
             node processes (``RelayNode`` on ``RedisLog``), half of the viewers on each;
  memory  -- one process with the in-memory ``Relay`` of the same reply (one node), every viewer on it.

Per run: viewer-events per second of relay CPU (user + system time of the relay processes,
which is what one core would do), the delay from the producer's read of a frame to a sampled
viewer's read of it (p50 / p99, every ``--sample``-th viewer), Redis commands per upstream event
per node (``INFO commandstats``), and relay memory per viewer (RSS growth when the viewers
connect, and peak RSS growth over the run). Every viewer must get every event, or the run fails.

Run:  python bench/relay_fanout.py [--deltas 10000] [--viewers 1000] [--rate 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rxclaude.testing.redis import RedisServer

HERE = Path(__file__).resolve().parent
ROLES = [sys.executable, str(HERE / "_relay_roles.py")]
TICK = os.sysconf("SC_CLK_TCK")


class Proc:
    """A child process driven by lines on stdin/stdout."""

    def __init__(self, *args: str) -> None:
        self.p = subprocess.Popen([*args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def line(self) -> str:
        assert self.p.stdout is not None
        out = self.p.stdout.readline().strip()
        if not out:
            raise SystemExit(f"{self.p.args} ended early (exit {self.p.poll()})")
        return out

    def say(self, text: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.p.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime

    def memory(self, field: str = "VmRSS") -> int:
        for line in Path(f"/proc/{self.p.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def close(self) -> None:
        if self.p.stdin is not None:
            self.p.stdin.close()
        try:
            self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def _delays(stamps: list[float], arrivals: list[list[Any]]) -> list[float]:
    """Per sampled viewer and event: its read time minus the producer's read of that frame."""
    delays: list[float] = []
    for viewer in arrivals:
        k = 1
        for last_id, t in viewer:
            while k <= last_id and k <= len(stamps):
                delays.append(t - stamps[k - 1])
                k += 1
    return delays


def _viewers(urls: list[list[str]], n: int, sample: int, tmp: Path) -> list[tuple[Proc, Path]]:
    procs = []
    for i, group in enumerate(urls):
        out = tmp / f"viewers{i}.json"
        count = n // len(urls) + (1 if i < n % len(urls) else 0)
        procs.append(
            (
                Proc(
                    *ROLES,
                    "viewers",
                    *[a for u in group for a in ("--url", u)],
                    "--count",
                    str(count),
                    "--sample",
                    str(sample),
                    "--out",
                    str(out),
                ),
                out,
            )
        )
    return procs


def run_memory(upstream: str, ns: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    relay = Proc(*ROLES, "memory", "--upstream", upstream, "--out", str(tmp / "memory.json"))
    url = relay.line()
    rss0 = relay.memory()
    viewers = _viewers([[url], [url]], ns.viewers, ns.sample, tmp)
    for proc, _ in viewers:
        assert proc.line() == "ready"
    rss1 = relay.memory()
    cpu0 = relay.cpu()
    relay.say("go")
    assert relay.line() == "done"
    for proc, _ in viewers:
        assert proc.line() == "done"
    cpu = relay.cpu() - cpu0
    peak = relay.memory("VmHWM")
    stamps = orjson.loads((tmp / "memory.json").read_bytes())
    result = _collect(viewers, stamps, cpu, ns, nodes=1)
    result |= {"mem_idle": (rss1 - rss0) / ns.viewers, "mem_peak": (peak - rss0) / ns.viewers, "cmds": 0.0}
    for proc, _ in viewers:
        proc.close()
    relay.close()
    return result


def run_redis(upstream: str, ns: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with RedisServer() as server:
        nodes = [
            Proc(*ROLES, "node", "--redis", server.url, "--read-interval", str(ns.read_interval)) for _ in range(2)
        ]
        urls = [n.line() + "/streams/bench/events" for n in nodes]
        producer = Proc(
            *ROLES,
            "producer",
            "--redis",
            server.url,
            "--upstream",
            upstream,
            "--id",
            "bench",
            "--out",
            str(tmp / "producer.json"),
        )
        assert producer.line() == "ready"
        time.sleep(0.2)  # the first heartbeat: the stream exists
        rss0 = sum(n.memory() for n in nodes)
        viewers = _viewers([[urls[0]], [urls[1]]], ns.viewers, ns.sample, tmp)
        for proc, _ in viewers:
            assert proc.line() == "ready"
        rss1 = sum(n.memory() for n in nodes)
        client = redis.Redis.from_url(server.url)
        client.config_resetstat()
        cpu0 = sum(n.cpu() for n in nodes)
        producer.say("go")
        assert producer.line() == "done"
        for proc, _ in viewers:
            assert proc.line() == "done"
        cpu = sum(n.cpu() for n in nodes) - cpu0
        peak = sum(n.memory("VmHWM") for n in nodes)
        stats = client.info("commandstats")
        client.close()
        produced = orjson.loads((tmp / "producer.json").read_bytes())
        stamps = produced["stamps"]
        result = _collect(viewers, stamps, cpu, ns, nodes=2)
        producer_cmds = {"cmdstat_xadd", "cmdstat_expire", "cmdstat_set", "cmdstat_config|resetstat", "cmdstat_info"}
        node_cmds = sum(v["calls"] for k, v in stats.items() if k not in producer_cmds)
        result |= {
            "mem_idle": (rss1 - rss0) / ns.viewers,
            "mem_peak": (peak - rss0) / ns.viewers,
            "cmds": node_cmds / 2 / len(stamps),
            "xread": stats.get("cmdstat_xread", {}).get("calls", 0),
            "producer_cmds": produced["commands"] / len(stamps),
        }
        for proc, _ in viewers:
            proc.close()
        producer.close()
        for n in nodes:
            n.close()
    return result


def _collect(
    viewers: list[tuple[Proc, Path]], stamps: list[float], cpu: float, ns: argparse.Namespace, nodes: int
) -> dict[str, Any]:
    events: list[int] = []
    arrivals: list[list[Any]] = []
    for _, out in viewers:
        data = orjson.loads(out.read_bytes())
        events += data["events"]
        arrivals += data["arrivals"]
    if len(events) != ns.viewers or set(events) != {len(stamps)}:
        raise SystemExit(f"viewers missed events: {sorted(set(events))} of {len(stamps)}")
    delays = sorted(_delays(stamps, arrivals))
    total = sum(events)
    return {
        "events": len(stamps),
        "viewer_events": total,
        "cpu": cpu,
        "per_core": total / cpu if cpu else float("inf"),
        "p50": delays[len(delays) // 2] * 1000,
        "p99": delays[int(len(delays) * 0.99)] * 1000,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--deltas", type=int, default=10_000)
    p.add_argument("--viewers", type=int, default=1000)
    p.add_argument("--rate", type=float, default=2000.0, help="upstream deltas per second")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--sample", type=int, default=10, help="measure the delay on every Nth viewer")
    p.add_argument("--read-interval", type=float, default=0.005, help="RelayNode(read_interval=...)")
    ns = p.parse_args()
    server = Proc(
        sys.executable, str(HERE / "_server.py"), "--deltas", str(ns.deltas), "--tokens-per-second", str(ns.rate)
    )
    upstream = server.line()
    runs: dict[str, list[dict[str, Any]]] = {"memory": [], "redis": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(ns.repeat):
                for kind in ("memory", "redis") if i % 2 == 0 else ("redis", "memory"):
                    result = (run_memory if kind == "memory" else run_redis)(upstream, ns, Path(tmp))
                    runs[kind].append(result)
                    print(
                        f"run {i + 1} {kind:6} "
                        + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()),
                        flush=True,
                    )
    finally:
        server.close()
    print(f"\n{ns.deltas} deltas at {ns.rate:g}/s to {ns.viewers} viewers; median [min-max] of {ns.repeat} runs")

    def show(label: str, key: str, fmt: str, kinds: tuple[str, ...] = ("memory", "redis")) -> None:
        cells = []
        for kind in kinds:
            values = [r[key] for r in runs[kind]]
            cells.append(f"{kind} {statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]")
        print(f"  {label:34} " + "   ".join(cells))

    show("viewer-events/s per core", "per_core", ",.0f")
    show("relay CPU s", "cpu", ".2f")
    show("delay p50 ms", "p50", ".1f")
    show("delay p99 ms", "p99", ".1f")
    show("memory per viewer, connected (B)", "mem_idle", ",.0f")
    show("memory per viewer, peak (B)", "mem_peak", ",.0f")
    show("Redis commands per event per node", "cmds", ".4f", ("redis",))
    show("producer commands per event", "producer_cmds", ".3f", ("redis",))
    ratios = [r["cpu"] / m["cpu"] for r, m in zip(runs["redis"], runs["memory"], strict=True)]
    print(
        f"  Redis/in-memory relay CPU: median {statistics.median(ratios):.2f}x "
        f"[{min(ratios):.2f}-{max(ratios):.2f}] (goal <= 2x); p99 goal < 50 ms; commands goal < 0.2"
    )


if __name__ == "__main__":
    main()
