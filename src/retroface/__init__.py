"""retroface: accountable retrospective facial recognition.

The package is layered (see DESIGN.md): media → faces → index → store →
governance → services → cli. Each layer imports only those before it.
"""

__version__ = "0.1.0"
