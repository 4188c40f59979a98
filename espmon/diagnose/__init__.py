"""Diagnosis in the words of esptool's troubleshooting guide: evidence -> cause -> advice.
``espmon decode``, ``espmon doctor`` and the console share one table (:mod:`.advice`)."""
