"""Evidence: card-possession proofs, the card face, document stills — encrypted at rest, read only by the officer."""
