"""The officer queue (窓口の待ち行列): presence, random offers with accept timeouts, wrap-up, reassignment."""
