"""Live recognition: camera deployments, the live run, alert sinks."""
