"""Checks on a program's source, without running it (`mpdoctor check`)."""
