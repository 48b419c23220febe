"""The read API (/api/v1/): queues and figures, contacts, alert groups, bulk jobs and the audit log as JSON."""
