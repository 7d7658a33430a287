"""The ASGI edge: WebSocket streaming, REST routes, control routes, auth and limits."""
