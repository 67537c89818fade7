"""The stream: the SSE consumer and the way a published change reaches it (see `streaming.hub`)."""
