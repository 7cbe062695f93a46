"""The My Number Card layer: APDUs, the card protocol, the PC/SC adapter and the Virtual My Number Card."""
