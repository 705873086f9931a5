"""Exercise checks for chapter 06."""
__all__ = []
