"""``yuqing demo``: a bundled local news site and a mail sink, so the whole pipeline runs offline."""
