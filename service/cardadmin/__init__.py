"""Remote card management by the issuer through the counter (docs/card-admin.md)."""
