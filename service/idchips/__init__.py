"""ID-document chips at the hub: verifiers per document kind, their trust anchors, the evidence they record.

Importing the package registers every verifier (service/idchips/verifiers.py).
"""

from service.idchips import passport as passport  # registers the passport verifier
