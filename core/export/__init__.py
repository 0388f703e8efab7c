"""Taking a session out of the app: files for a DAW (``daw``)."""
