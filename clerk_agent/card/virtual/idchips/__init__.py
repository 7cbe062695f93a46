"""Virtual ID documents with chips, for tests and the demo: each a vicc behind vpcd, signed by a test PKI."""
