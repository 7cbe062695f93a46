"""The Virtual My Number Card: an emulator of the JPKI, Kenhojo and Kenkaku applications, for tests and demos.

Run it inside a real pcscd with `clerk-agent virtual-card --vpcd-port PORT --person yamada_hanako`, after
`hub dev-pki` has written the test PKI (var/dev-pki). `pcscd.PcscdStack` starts a pcscd with a private vpcd reader
("Madoguchi VPCD 00 00/01" on ports 40400/40401) for tests and the benchmark.

What it does not model faithfully (docs/card.md §2.3):
- The card-face signature is made by one configured "J-LIS issuer" key; on a real card it is the key certified by the
  AP's CVC in EF 0004, which chains to a J-LIS CA key. The CVC files hold placeholders.
- Kenkaku's own key (DF24) answers `80 2A 00 00 <DigestInfo>` with no credential (docs/card-face-binding.md);
  the encoding of DF24 on real cards (here 90 exponent, 91 modulus, like the CVC) is an assumption.
- Retry limits of 照合番号A/B and the birth-date key are not established; 10 is assumed.
- No secure messaging, no T=0 61xx/6Cxx responses, no contactless ATR, no card-side timing (a real
  RSA-2048 signature takes far longer than the emulator's OpenSSL call).
- Certificates carry no JPKI policies, CRL distribution point (a DirName on real roots) or SAN basic-4.
"""
