"""The property-based fuzz suite (issue 16): hostile XML, JSON and query strings through the CCP API, hostile ids,
and hostile filters through the dashboard. README "Fuzzing" says how to run the long run."""
