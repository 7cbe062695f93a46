"""pytest plugins shared by the whole suite."""
