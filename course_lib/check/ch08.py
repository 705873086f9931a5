"""Exercise checks for chapter 08."""
__all__ = []
