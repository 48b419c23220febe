"""The dashboard: read queries (the overview, lists, charts), its pages, and the CSV export."""
