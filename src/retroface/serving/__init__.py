"""HTTP plumbing shared by the REST API and the web UI.

Who is calling (bearer token, API key or browser session cookie), background
jobs, receiving uploads into the data directory, and errors as problem
documents. ``retroface.server`` composes the API and the UI on top of it.
"""
