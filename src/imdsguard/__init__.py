"""imdsguard: find and safely remove IMDSv1 across an AWS estate."""

__version__ = "0.1.0"
