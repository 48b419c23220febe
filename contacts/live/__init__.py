"""The live path: the event format, the broadcast to every open dashboard, the WebSocket consumer, the resync."""
