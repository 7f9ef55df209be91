"""mpdoctor: diagnose multiprocess Python programs."""

__version__ = "0.1.0"
