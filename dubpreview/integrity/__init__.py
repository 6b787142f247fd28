"""Integrity of what the dub says: the words of each line are the words that were spoken,
once each, in the target language, or the line says why they may not be.

- :mod:`~dubpreview.integrity.words` — the one rule that turns word timestamps back into text.
- :mod:`~dubpreview.integrity.repetition` — repetition loops (Whisper's compression-ratio
  test and a repeated n-gram detector) and their repair.
- :mod:`~dubpreview.integrity.phrases` — Whisper's known hallucinated phrases, kept only where
  the audio under them holds speech.
- :mod:`~dubpreview.integrity.rate` — the speaking-rate ceiling: text that cannot be spoken in
  its slot.
- :mod:`~dubpreview.integrity.language` — translations left untranslated.
- :mod:`~dubpreview.integrity.coverage` — speech the lines do not cover.
- :mod:`~dubpreview.integrity.flags` — the reasons a line is doubtful, as stored per line.
- :mod:`~dubpreview.integrity.asr_guard` / :mod:`~dubpreview.integrity.translation_guard` —
  the guard passes the pipeline runs after speech recognition and after translation.
"""
