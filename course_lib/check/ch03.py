"""Exercise checks for chapter 03."""
__all__ = []
