"""Application photo guidance (申請用顔写真): framing, light and focus advice for the 45×35 mm photo."""
