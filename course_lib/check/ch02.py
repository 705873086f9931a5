"""Exercise checks for chapter 02."""
__all__ = []
