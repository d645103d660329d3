"""The image-registry policy pack (policies in `policies.py`, the pack in `__main__.py`)."""
