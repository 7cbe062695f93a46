"""The Virtual My Number Card: an emulator of the JPKI, Kenhojo and Kenkaku applications, for tests and demos."""
