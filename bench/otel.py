"""What OpenTelemetry costs a client: CPU per stream with tracing off, idle, and on.

The mock server runs in its own process (``_server.py``), so ``time.process_time()`` is the
client's CPU alone. Each round streams ``--streams`` requests of ``--deltas`` text deltas,
one after the other, with each configuration in turn (interleaved, so drift hits all alike):

- **off**: ``Client(open_telemetry=False)``: no instrumentation (what a client without the
  ``otel`` extra runs; the child run below checks that);
- **idle**: ``Client()`` with ``opentelemetry-api`` installed but no tracer or meter provider
  configured: one non-recording span per request, no per-frame work;
- **on**: ``Client(open_telemetry=OpenTelemetry(tracer_provider=..., meter_provider=...))``
  with the OTel SDK, a simple span processor into an in-memory exporter and an in-memory
  metric reader: two spans, trace-context headers, four histograms per request, a tap per frame.
- **absent** (a child process with ``opentelemetry`` hidden from the import system): the
  default ``Client()``, against ``off`` in the same child.

    python bench/otel.py [--streams 40] [--deltas 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PARAMS: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64000,
    "messages": [{"role": "user", "content": "b"}],
}


class Hide:
    """Makes ``opentelemetry`` look not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(name)


def start_server(deltas: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_server.py")), "--deltas", str(deltas)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def cpu_per_stream(client: Any, streams: int) -> float:
    start = time.process_time()
    for _ in range(streams):
        count = 0

        def on_text(t: str) -> None:
            nonlocal count
            count += len(t)

        async with client.messages.stream(**PARAMS) as stream:
            stream.text.subscribe(on_text)
            message = await stream.final_message()
        assert len(message.text) == count
    return (time.process_time() - start) / streams


async def rounds(url: str, configs: dict[str, Any], streams: int, repeat: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in configs}
    for client in configs.values():
        await cpu_per_stream(client, 2)  # warm up: connections, imports
    for _ in range(repeat):
        for name, client in configs.items():
            out[name].append(await cpu_per_stream(client, streams))
    for client in configs.values():
        await client.close()
    return out


async def parent(args: argparse.Namespace, url: str) -> dict[str, list[float]]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import rxclaude
    from rxclaude.otel import OpenTelemetry

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    on = OpenTelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    configs = {
        "off": rxclaude.Client(api_key="k", base_url=url, open_telemetry=False),
        "idle": rxclaude.Client(api_key="k", base_url=url),
        "on": rxclaude.Client(api_key="k", base_url=url, open_telemetry=on),
    }
    result = await rounds(url, configs, args.streams, args.repeat)
    assert len(exporter.get_finished_spans()) >= 2 * args.streams * args.repeat
    return result


async def child(args: argparse.Namespace, url: str) -> dict[str, list[float]]:
    sys.meta_path.insert(0, Hide())
    import rxclaude

    configs = {
        "off": rxclaude.Client(api_key="k", base_url=url, open_telemetry=False),
        "absent": rxclaude.Client(api_key="k", base_url=url),
    }
    assert configs["absent"].instrumentation is None
    result = await rounds(url, configs, args.streams, args.repeat)
    assert not [m for m in sys.modules if m.startswith("opentelemetry")]
    return result


def summary(label: str, values: list[float], base: list[float]) -> str:
    ratios = [v / b for v, b in zip(values, base, strict=True)]
    return (
        f"  {label:7s} {statistics.median(values) * 1e3:7.2f} ms CPU/stream "
        f"(range {min(values) * 1e3:.2f}-{max(values) * 1e3:.2f})   vs off: median {statistics.median(ratios):.3f}x "
        f"(range {min(ratios):.3f}-{max(ratios):.3f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=40)
    ap.add_argument("--deltas", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args, args.child))))
        return
    proc, url = start_server(args.deltas)
    try:
        main_result = asyncio.run(parent(args, url))
        out = subprocess.run(
            [sys.executable, __file__, "--child", url, *sys.argv[1:]], capture_output=True, text=True, check=True
        )
        child_result = json.loads(out.stdout)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    print(f"{args.streams} streams x {args.deltas} deltas per round, {args.repeat} rounds")
    print(summary("off", main_result["off"], main_result["off"]))
    print(summary("idle", main_result["idle"], main_result["off"]))
    print(summary("on", main_result["on"], main_result["off"]))
    print("child process, opentelemetry hidden:")
    print(summary("absent", child_result["absent"], child_result["off"]))


if __name__ == "__main__":
    main()
