"""What the mock checks in a conversation's assistant turns, and how it continues a prefill.

The real API, as of December 2026:

- refuses an assistant prefill (a conversation ending with an ``assistant`` message) on Claude
  4.6 and later: 400 :data:`~rxclaude.core.recovery.PREFILL_REFUSED`;
- refuses a prefill whose text ends in whitespace: 400
  :data:`~rxclaude.core.recovery.TRAILING_WHITESPACE_REFUSED`;
- with ``thinking`` on, refuses a tool loop whose last assistant turn (before the last
  ``tool_result``) does not start with its thinking block: 400 "Expected `thinking` or
  `redacted_thinking`, but found ..." (thinking dropped);
- refuses a thinking block that is not byte for byte the one it signed: 400 "Invalid
  `signature` in `thinking` block" (thinking altered). The mock knows the signatures it issued
  (:meth:`TurnChecker.observe`); one it never issued (a recording's real signature) is
  accepted, as the mock cannot verify it.

A prefill the model accepts is *continued*: when the prefill is a prefix of the scripted reply
(equal blocks, the last text a prefix of the script's), the mock streams only the rest, as the
API does (the continuation's first block goes on with the prefill's text). A prefill that is not
a prefix of the script leaves the script as it is.

Example::

    checker = TurnChecker()
    checker.observe(frames)                 # remember the signatures these frames issue
    checker.check(body)                     # None, or (status, error type, message)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from rxclaude.core.recovery import PREFILL_REFUSED, TRAILING_WHITESPACE_REFUSED, refuses_prefill
from rxclaude.testing.sse import accumulate, events_from_sse, make_id, sse_frame

__all__ = ["THINKING_DROPPED", "TurnChecker", "continue_frames", "prefill_blocks"]

THINKING_DROPPED = (
    "Expected `thinking` or `redacted_thinking`, but found `{found}`. When `thinking` is enabled, a final "
    "`assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and "
    "`tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this "
    "requirement, disable `thinking`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)
"""The API's message when a tool loop's assistant turn lost its thinking block."""

Refusal = tuple[int, str, str]


def _blocks(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content) if isinstance(content, list) else []


def prefill_blocks(body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The content blocks of the final ``assistant`` message (the prefill), or ``None``.

    Example::

        prefill_blocks({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}]})
        # [{'type': 'text', 'text': 'Hel'}]
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "assistant":
        return None
    return [b for b in _blocks(last.get("content")) if isinstance(b, dict)]


class TurnChecker:
    """The API's checks on assistant turns (see the module docstring)."""

    def __init__(self) -> None:
        self.signatures: dict[str, str] = {}
        """Each signature the mock issued -> the thinking it signed."""
        self.no_prefill: set[str] = set()
        """More model ids that refuse a prefill (besides Claude 4.6 and later)."""

    def observe(self, frames: Sequence[bytes]) -> None:
        """Remember the signatures a reply issues (frames without one cost a substring test)."""
        if not any(b"signature_delta" in f for f in frames):
            return
        message = accumulate(events_from_sse(b"".join(frames)))
        for block in message.get("content") or ():
            if block.get("type") == "thinking" and block.get("signature"):
                self.signatures[block["signature"]] = block.get("thinking", "")

    def check(self, body: Mapping[str, Any]) -> Refusal | None:
        """The API's 400 for this request's assistant turns, or ``None``."""
        messages = body.get("messages")
        if not isinstance(messages, list):
            return None
        for i, message in enumerate(messages):
            if not isinstance(message, Mapping) or message.get("role") != "assistant":
                continue
            for j, block in enumerate(_blocks(message.get("content"))):
                if not isinstance(block, Mapping) or block.get("type") != "thinking":
                    continue
                if "signature" not in block:
                    return 400, "invalid_request_error", f"messages.{i}.content.{j}.thinking.signature: Field required"
                signature = block.get("signature")
                issued = self.signatures.get(signature) if isinstance(signature, str) else None
                if not signature or (issued is not None and issued != block.get("thinking")):
                    return (
                        400,
                        "invalid_request_error",
                        f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block",
                    )
        dropped = _thinking_dropped(body, messages)
        if dropped is not None:
            return dropped
        prefill = prefill_blocks(body)
        if prefill is not None:
            model = body.get("model")
            if isinstance(model, str) and (refuses_prefill(model) or model in self.no_prefill):
                return 400, "invalid_request_error", PREFILL_REFUSED
            last = prefill[-1] if prefill else None
            if (
                last is not None
                and last.get("type") == "text"
                and str(last.get("text", "")).rstrip() != last.get("text")
            ):
                return 400, "invalid_request_error", TRAILING_WHITESPACE_REFUSED
        return None


def _thinking_dropped(body: Mapping[str, Any], messages: list[Any]) -> Refusal | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    last_user = next(
        (
            i
            for i in range(len(messages) - 1, -1, -1)
            if isinstance(messages[i], Mapping) and messages[i].get("role") == "user"
        ),
        None,
    )
    if last_user is None or last_user == 0:
        return None
    user_blocks = _blocks(messages[last_user].get("content"))
    if not any(isinstance(b, Mapping) and b.get("type") == "tool_result" for b in user_blocks):
        return None
    i = last_user - 1
    assistant = messages[i]
    if not isinstance(assistant, Mapping) or assistant.get("role") != "assistant":
        return None
    blocks = _blocks(assistant.get("content"))
    first = blocks[0] if blocks and isinstance(blocks[0], Mapping) else {}
    found = first.get("type", "nothing")
    if found in ("thinking", "redacted_thinking"):
        return None
    return 400, "invalid_request_error", f"messages.{i}.content.0.type: " + THINKING_DROPPED.format(found=found)


def continue_frames(frames: Sequence[bytes], prefill: list[dict[str, Any]]) -> list[bytes] | None:
    """The frames that continue ``prefill`` within a scripted reply, or ``None`` when the prefill
    is not a prefix of it (complete blocks equal, the last text a prefix of the script's).

    Example::

        continue_frames(Reply.text("Hello world").frames(body), [{"type": "text", "text": "Hello"}])
    """
    events = events_from_sse(b"".join(frames))
    script = accumulate(events).get("content") or []
    if not prefill:
        return None
    ends_in_text = prefill[-1].get("type") == "text"
    k = len(prefill) - 1 if ends_in_text else len(prefill)
    if len(prefill) > len(script):
        return None
    for got, want in zip(prefill[:k], script[:k], strict=True):
        if _param(got) != _param(want):
            return None
    skip = 0
    if ends_in_text:
        head = prefill[k].get("text")
        if (
            script[k].get("type") != "text"
            or not isinstance(head, str)
            or not script[k].get("text", "").startswith(head)
        ):
            return None
        skip = len(head)
    out: list[bytes] = []
    for event in events:
        t = event.get("type")
        index = event.get("index")
        if t == "message_start":
            message = dict(event["message"])
            message["id"] = make_id("msg_01")
            event = {**event, "message": message}
        elif isinstance(index, int) and t in ("content_block_start", "content_block_delta", "content_block_stop"):
            if index < k:
                continue
            event = {**event, "index": index - k}
            if index == k and t == "content_block_delta":
                delta = event.get("delta") or {}
                if skip and delta.get("type") != "text_delta":
                    continue  # (a citation of the prefill's text: already sent)
                text = delta.get("text", "")
                if skip:
                    cut = min(skip, len(text))
                    skip -= cut
                    text = text[cut:]
                    if not text:
                        continue
                    event = {**event, "delta": {**delta, "text": text}}
        out.append(sse_frame(str(t), event))
    return out


def _param(block: Mapping[str, Any]) -> bytes:
    """A block as the script is compared with it: its JSON without a response-only
    ``citations: null``, and without a thinking signature (a scripted reply draws a new one at
    each rendering; :class:`TurnChecker` checks signatures)."""
    kept = {k: v for k, v in block.items() if not (k == "citations" and v is None) and k != "signature"}
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)
