"""The agent's media side of the live link (ライブ接続): aiortc peer, camera, microphone, document stills."""
