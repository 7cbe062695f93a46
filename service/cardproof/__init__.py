"""Card-possession proof: the hub verifies what the clerk agent read from a My Number Card. Pure code, no DB."""
