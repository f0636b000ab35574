"""Issue 11, item 10: conformance with the official SDKs of December 2026.

* Python ``anthropic`` >= 2.17 (the ``[test]`` pin): ``final_message()`` equals what both of its
  accumulators (``messages`` and ``beta.messages``) build from every recording in
  ``tests/fixtures``, through a MessageStream; the SDK itself reads the mock.
* TypeScript ``@anthropic-ai/sdk`` 1.17 reads the mock and the relay (it sends
  ``anthropic-version: 2026-10-21`` and ``Authorization: Bearer``); skipped unless Node.js and
  ``RXCLAUDE_TS_SDK`` (a folder where ``npm install @anthropic-ai/sdk@1.17`` was run) are there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
import reactivex

import rxclaude
from rxclaude import Client
from rxclaude.core.sse import SSEDecoder
from rxclaude.testing import MockServer, Reply

from .helpers import FIXTURES

anthropic = pytest.importorskip("anthropic")
from anthropic.lib.streaming import _beta_messages, _messages  # noqa: E402

ERROR_FIXTURES = {"docs-error-overloaded.sse", "fragment-midstream-api-error.sse"}
RECORDINGS = sorted(p.name for p in FIXTURES.glob("*.sse") if p.name not in ERROR_FIXTURES)
KEY = "fake-key-test-sdk217-0123456789"
PARAMS: dict[str, Any] = {"model": "claude-opus-4-7", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}


def test_the_pin_is_2_17() -> None:
    version = tuple(int(x) for x in anthropic.__version__.split(".")[:2])
    assert version >= (2, 17)
    setup = (Path(__file__).parent.parent / "setup.cfg").read_text()
    assert "anthropic>=2.17" in setup


def _sdk(data: bytes, beta: bool) -> dict[str, Any]:
    import httpx2

    snapshot = None
    bufs: dict[int, bytes] = {}
    for frame in SSEDecoder().feed(data):
        if frame.event == "ping" or not frame.data:
            continue
        event = orjson.loads(frame.data)
        if beta:
            snapshot = _beta_messages.accumulate_event(
                event=event, current_snapshot=snapshot, json_bufs=bufs, request_headers=httpx2.Headers()
            )
        else:
            snapshot = _messages.accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    assert snapshot is not None
    return dict(snapshot.to_dict(mode="json"))


@pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta"])
@pytest.mark.parametrize("name", RECORDINGS)
async def test_final_message_equals_both_sdk_accumulators(name: str, beta: bool) -> None:
    if name.startswith("beta-") and not beta:
        pytest.skip("a beta-only block type: the GA accumulator mistypes it (pydantic warns)")
    data = (FIXTURES / name).read_bytes()
    stream = rxclaude.MessageStream(reactivex.from_iterable(SSEDecoder().feed(data)))
    message = await asyncio.wait_for(stream.final_message(), 10)
    assert message.to_dict() == _sdk(data, beta)


async def test_the_python_sdk_reads_the_mock() -> None:
    async with MockServer(require_key=KEY) as server:
        server.enqueue(Reply.from_sse(FIXTURES / "tool-use-single-sonnet4.sse"))
        sdk = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.url, max_retries=0)
        async with sdk, sdk.messages.stream(**PARAMS) as s:
            final = await asyncio.wait_for(s.get_final_message(), 10)
        h = server.last_request.headers
    assert h["anthropic-version"] == "2026-10-21"  # what 2.17 sends; the mock takes it
    assert final.to_dict(mode="json") == _sdk((FIXTURES / "tool-use-single-sonnet4.sse").read_bytes(), False)


# -- TypeScript SDK 1.17 ---------------------------------------------------------------------------

TS_SDK = os.environ.get("RXCLAUDE_TS_SDK", "")
TS_SCRIPT = r"""
const { createRequire } = require("module");
const req = createRequire(process.env.RXCLAUDE_TS_SDK + "/");
const sdk = req("@anthropic-ai/sdk");
const Anthropic = sdk.default ?? sdk;
(async () => {
  const client = new Anthropic({ apiKey: process.argv[4], baseURL: process.argv[2], maxRetries: 0 });
  const texts = [];
  try {
    const stream = client.messages.stream(JSON.parse(process.argv[3]));
    stream.on("text", (t) => texts.push(t));
    const message = await stream.finalMessage();
    const pkg = process.env.RXCLAUDE_TS_SDK + "/node_modules/@anthropic-ai/sdk/package.json";
    const version = JSON.parse(require("fs").readFileSync(pkg, "utf8")).version;
    console.log(JSON.stringify({ texts, message, version }));
  } catch (e) {
    console.log(JSON.stringify({ texts, error: e.constructor.name, message: String(e.message) }));
  }
})();
"""
needs_ts_sdk = pytest.mark.skipif(
    shutil.which("node") is None or not (Path(TS_SDK) / "node_modules" / "@anthropic-ai" / "sdk").is_dir(),
    reason="needs Node.js and RXCLAUDE_TS_SDK: a folder where `npm install @anthropic-ai/sdk@1.17` was run",
)


async def _typescript(url: str, tmp_path: Path, key: str = KEY) -> dict[str, Any]:
    script = tmp_path / "sdk_client.cjs"
    script.write_text(TS_SCRIPT, encoding="utf-8")
    node = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        url,
        orjson.dumps(PARAMS).decode(),
        key,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "RXCLAUDE_TS_SDK": TS_SDK},
    )
    out, _ = await asyncio.wait_for(node.communicate(), 60)
    result: dict[str, Any] = orjson.loads(out)
    return result


@needs_ts_sdk
async def test_the_typescript_sdk_reads_the_mock(tmp_path: Path) -> None:
    fixture = FIXTURES / "thinking-then-tool-use-sonnet4.sse"
    async with MockServer(require_key=KEY) as server:
        server.enqueue(Reply.from_sse(fixture))
        got = await _typescript(server.url, tmp_path)
        h = server.last_request.headers
    assert "error" not in got, got
    assert got["version"].startswith("1.17"), got
    assert h["anthropic-version"] == "2026-10-21" and h["authorization"] == f"Bearer {KEY}"
    expected = _sdk(fixture.read_bytes(), False)
    assert got["message"]["content"] == expected["content"]
    assert got["message"]["usage"]["output_tokens"] == expected["usage"]["output_tokens"]


@needs_ts_sdk
async def test_the_typescript_sdk_reads_the_relay(tmp_path: Path) -> None:
    async with MockServer(require_key=KEY) as server, Client(api_key=KEY, base_url=server.url) as client:
        server.enqueue(Reply.text(["Bonjour ", "le monde."]))
        stream = client.messages.stream(**PARAMS)
        relay = rxclaude.Relay(stream.frames)
        stream.connect()
        async with relay.serve() as url:
            got = await _typescript(url, tmp_path, key="unused")
        upstream = (await asyncio.wait_for(stream.final_message(), 10)).to_dict()
        await relay.aclose()
    assert "error" not in got, got
    assert "".join(got["texts"]) == "Bonjour le monde." and got["message"]["content"] == upstream["content"]
