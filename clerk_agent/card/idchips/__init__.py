"""Readers of ID-document chips at the counter (passport; driving licence and residence card beside it)."""
