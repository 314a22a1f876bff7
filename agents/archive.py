"""The conversation's archive: what grows with a conversation — the transcript, what the bot tried, the guard
log — is appended once per turn to the graph's store (LangGraph's ``BaseStore``), and the state keeps only a
window of the latest items, so a checkpoint's size does not grow with the conversation.

Each finished turn writes one record under ``("tactful", "archive", thread_id)``, keyed by the turn number, with
the items of each windowed list that arrived since the last record; then the lists are trimmed to their windows
(:data:`WINDOW`) and ``archived`` notes how many items at the front of each window are in the archive already.
The whole list is therefore the archive's records in turn order followed by the window past ``archived``
(:func:`history`). Rewriting a turn's record (a turn resumed after a crash runs ``finish`` again) puts the same
items under the same key. A graph compiled without a store keeps everything in state, as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from langgraph.config import get_config
from langgraph.store.base import BaseStore

from tactful.agents.state import GuardVerdict, Message, SupportState, Trim

WINDOW: Mapping[str, int] = {"messages": 20, "tried": 8, "guard_log": 12}
"""Items each windowed list keeps in state: enough for every node that reads recent history (the sentiment
reasoner's ten earlier user messages, the classifier's eight, the reply's history window, the model prompt's
six last things tried)."""

PAGE = 500


class History(TypedDict):
    messages: list[Message]
    tried: list[str]
    guard_log: list[GuardVerdict]


def graph_thread_id() -> str:
    """The running graph's thread id (inside a node)."""
    return str(get_config().get("configurable", {}).get("thread_id", ""))


def namespace(thread_id: str) -> tuple[str, ...]:
    """The archive's namespace for a thread (a store's labels may not hold ``.``: it is percent-encoded)."""
    return ("tactful", "archive", thread_id.replace("%", "%25").replace(".", "%2E"))


def trim(keep: int) -> Trim:
    """The update that trims a windowed list to its last ``keep`` items (its reducer reads it)."""
    return {"keep_last": keep}


async def archive_turn(store: BaseStore, thread_id: str, state: SupportState) -> dict[str, object]:
    """Append this turn's new items to the archive and return the update that trims the windows."""
    kept = state.get("archived") or {}
    values: Mapping[str, Any] = state
    chunk = {name: list(values.get(name) or [])[kept.get(name, 0):] for name in WINDOW}
    if any(chunk.values()):
        await store.aput(namespace(thread_id), f"{state.get('turn', 0):08d}", chunk, index=False)
    update: dict[str, object] = {}
    archived: dict[str, int] = {}
    for name, window in WINDOW.items():
        size = len(values.get(name) or [])
        keep = min(window, size)
        if size > keep:
            update[name] = [trim(keep)]
        archived[name] = keep
    update["archived"] = archived
    return update


async def records(store: BaseStore, thread_id: str) -> list[dict[str, Any]]:
    """The archive's records of a conversation, in turn order."""
    found: list[tuple[str, dict[str, Any]]] = []
    offset = 0
    while True:
        page = await store.asearch(namespace(thread_id), limit=PAGE, offset=offset)
        found.extend((item.key, item.value) for item in page)
        if len(page) < PAGE:
            break
        offset += PAGE
    return [value for _, value in sorted(found, key=lambda kv: kv[0])]


async def history(store: BaseStore | None, thread_id: str, state: SupportState) -> History:
    """The whole transcript, ``tried`` and guard log of a conversation: the archive, then the window's newer
    items (everything is in state when the graph has no store or nothing was archived yet)."""
    values: Mapping[str, Any] = state
    kept = state.get("archived") or {}
    out: dict[str, list[Any]] = {name: [] for name in WINDOW}
    if store is not None and kept:
        for record in await records(store, thread_id):
            for name in WINDOW:
                out[name].extend(record.get(name, []))
    archived = store is not None and bool(kept)
    for name in WINDOW:
        window: Sequence[Any] = values.get(name) or []
        out[name].extend(window[kept.get(name, 0):] if archived else window)
    return {"messages": out["messages"], "tried": out["tried"], "guard_log": out["guard_log"]}


async def forget(store: BaseStore, thread_id: str) -> None:
    """Delete a conversation's archive (with its checkpoints, when a thread is deleted)."""
    while page := await store.asearch(namespace(thread_id), limit=PAGE):
        for item in page:
            await store.adelete(namespace(thread_id), item.key)
