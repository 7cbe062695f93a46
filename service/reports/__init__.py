"""Monthly figures for municipalities and the ministry, with their exports (docs/reports.md)."""
