"""Where biometric data is written, indexed, shown and deleted: face and template rows, the gallery index, audited face views, sealed files, uploads, and deletion."""
