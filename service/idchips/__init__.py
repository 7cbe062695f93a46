"""ID-document chips at the hub: verifiers per document kind, their trust anchors, the evidence they record.

Importing the package registers every verifier (service/idchips/verifiers.py).
"""

from service.idchips import licence as licence  # registers the driving licence verifier
from service.idchips import passport as passport  # registers the passport verifier
from service.idchips import residence as residence  # registers the residence card verifiers
