"""Exercise checks for chapter 05."""
__all__ = []
