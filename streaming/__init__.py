"""The stream: the SSE consumer, the channel-layer broadcast, the per-process flag store."""
