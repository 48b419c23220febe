"""The wall board: `/wall/`, the KPI tiles and the alert groups for a large screen, opened by a view-only link."""
