"""What overseers read: the audit log, transparency reports, retention."""
