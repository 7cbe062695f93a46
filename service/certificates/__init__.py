"""Certificates at the post office (郵便局型利用端末): kiosk requests, print jobs, issued copies, fees (docs/certificates.md)."""
