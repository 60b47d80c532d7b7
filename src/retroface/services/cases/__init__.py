"""Cases and what hangs off them: opening, authorisation, closure, human review, the case report."""
