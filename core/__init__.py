"""Session Lab's headless core: domain, storage, providers and playback.

Nothing under ``core`` imports textual or rich; heavy libraries (torch,
transformers, sklearn, openai, scipy.signal) are imported inside the functions
that need them.
"""

__version__ = "0.1.0"
