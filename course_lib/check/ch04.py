"""Exercise checks for chapter 04."""
__all__ = []
