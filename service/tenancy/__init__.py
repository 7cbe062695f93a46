"""Tenancy: municipalities, post offices and designations (指定郵便局の指定)."""
