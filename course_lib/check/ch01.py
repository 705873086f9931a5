"""Exercise checks for chapter 01."""
__all__ = []
