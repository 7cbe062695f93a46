"""Domain-free helpers; never imports a domain."""
