"""The agent's link to the hub: signed HTTP requests (and later the signaling socket)."""
