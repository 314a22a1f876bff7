"""Conversation routes: post a message (JSON or server-sent events), read a conversation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tactful.graphs.runner import TurnResult
from tactful.service.deps import ConversationId, ServicesDep, TenantDep
from tactful.service.models import ConversationOut, MessageIn
from tactful.service.routes import errors
from tactful.service.turns import TurnHandle

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

MESSAGE_ERRORS = errors(401, 409, 413, 422, 429, 503)
SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["token", "guard", "handoff", "result", "error"]},
        "data": {"type": "string", "description": "a JSON object: the event's payload"},
    },
}
SSE_DOC = {
    "description": "Server-sent events: `token` (reply text as it is released), `guard` (a guard tripped), "
    "`handoff` (handed to a person), then `result` (the turn result, as in the JSON answer).",
    "content": {"text/event-stream": {"schema": SSE_EVENT}},
}


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def stream_response(handle: TurnHandle) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        async for event in handle.events():
            yield _sse(event.type, event.data)
        if handle.error is not None:
            yield _sse("error", {"detail": "the turn failed; retry with the same message_id"})

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/{conversation_id}/messages",
    response_model=TurnResult,
    summary="Post a user message and get the turn result",
    responses={**MESSAGE_ERRORS, 200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}}},
)
async def post_message(
    conversation_id: ConversationId,
    body: MessageIn,
    request: Request,
    tenant: TenantDep,
    services: ServicesDep,
) -> Response:
    """Run one support turn. A second message to the same conversation waits until this one is done (at most
    ``turn_lock_timeout_s``, then 409). Retrying with the same ``message_id`` returns the same result
    without a second turn. With ``Accept: text/event-stream`` it streams as ``/messages/stream`` does."""
    stream = "text/event-stream" in request.headers.get("accept", "")
    handle = await services.turns.submit(tenant, conversation_id, body, stream=stream)
    if stream:
        return stream_response(handle)
    result = await handle.result()
    return JSONResponse(result.model_dump(mode="json"))


@router.post(
    "/{conversation_id}/messages/stream",
    response_class=StreamingResponse,
    summary="Post a user message and stream the turn (SSE)",
    responses={**MESSAGE_ERRORS, 200: SSE_DOC},
)
async def stream_message(
    conversation_id: ConversationId, body: MessageIn, tenant: TenantDep, services: ServicesDep
) -> StreamingResponse:
    """The streaming variant of posting a message. The turn runs to its end even if the client goes away."""
    handle = await services.turns.submit(tenant, conversation_id, body, stream=True)
    return stream_response(handle)


@router.get(
    "/{conversation_id}",
    response_model=ConversationOut,
    summary="Read a conversation: transcript, state summary, decisions with factors, handoffs",
    responses=errors(401, 404, 422, 429),
)
async def get_conversation(
    conversation_id: ConversationId, tenant: TenantDep, services: ServicesDep
) -> ConversationOut:
    return await services.ops.conversation(tenant, conversation_id)
