"""Exercise checks for chapter 07."""
__all__ = []
