"""Does nothing: the fixed cost of starting Python (and of mpdoctor around it)."""
