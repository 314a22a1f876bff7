"""The reply as LangChain sees a chat model's answer, so LangGraph's ``messages`` stream mode carries it.

LangGraph streams ``messages`` from chat-model callbacks. The support graph's reply is not a bare model
output — each piece is released only after the output guard has seen it — so the responder reports what it
*releases* as a chat run: ``on_chat_model_start`` with the recent transcript, one ``on_llm_new_token`` per
released piece, ``on_llm_end`` with the whole reply. Clients streaming ``messages`` (Studio, Agent Chat UI,
``langgraph-sdk``) get the reply as ``AIMessageChunk`` pieces; a LangSmith trace shows it as the ``reply`` run.
Outside a graph run (no callbacks) every call is a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from langchain_core.callbacks.manager import AsyncCallbackManager, AsyncCallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from langgraph.config import get_config

from tactful.agents.state import Message

_TAGS = ["tactful:reply"]


def as_chat(messages: Sequence[Message]) -> list[BaseMessage]:
    """Transcript messages as LangChain messages (the run's inputs)."""
    out: list[BaseMessage] = []
    for m in messages:
        if m["role"] == "user":
            out.append(HumanMessage(content=m["text"]))
        elif m["role"] == "system":
            out.append(SystemMessage(content=m["text"]))
        else:
            out.append(AIMessage(content=m["text"], name=m["role"]))
    return out


class ReplyRun:
    """One reply reported as a chat run; ``piece`` per released text, then ``end``."""

    def __init__(self, run: AsyncCallbackManagerForLLMRun | None) -> None:
        self.run = run
        self.id = f"reply-{uuid.uuid4().hex}"
        self.text = ""

    @classmethod
    async def start(cls, *, name: str, engine: str, transcript: Sequence[Message]) -> ReplyRun:
        try:
            config = get_config()
        except RuntimeError:  # called outside a graph run
            return cls(None)
        manager = AsyncCallbackManager.configure(
            inheritable_callbacks=config.get("callbacks"),
            local_tags=_TAGS,
            local_metadata={"ls_provider": "tactful", "ls_model_name": engine, "ls_model_type": "chat"},
        )
        if not manager.handlers:
            return cls(None)
        runs = await manager.on_chat_model_start(
            {"name": name, "id": ["tactful", "responder", name]},
            [as_chat(transcript)],
            name=name,
            invocation_params={"engine": engine},
        )
        return cls(runs[0])

    async def piece(self, text: str) -> None:
        if not text:
            return
        self.text += text
        if self.run is not None:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text, id=self.id))
            await self.run.on_llm_new_token(text, chunk=chunk)

    async def end(self) -> None:
        if self.run is not None:
            message = AIMessage(content=self.text, id=self.id)
            await self.run.on_llm_end(LLMResult(generations=[[ChatGeneration(message=message)]]))
            self.run = None
