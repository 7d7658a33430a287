"""`GET /v1/conversations/{id}/entities`: the entities found in a conversation's messages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mock_symbl.session.messages import entity_list
from mock_symbl.web.rest import Owned, StoreDep

entities_api = APIRouter()


@entities_api.get("/v1/conversations/{conversation_id}/entities")
def get_entities(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    # Entities are kept with each message when its start request asked for them
    # (detectEntities, redaction.identifyContent); a conversation that asked for none has none.
    return {"entities": entity_list(store.messages(conversation.id))}
