"""Live seat updates: the seat-change channel, the per-process hub, the websocket."""
