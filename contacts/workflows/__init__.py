"""The admins' workflows: cancel and resubmit (one or many), bulk jobs, the audit log, retention."""
