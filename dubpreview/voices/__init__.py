"""Voice matching: every speaker gets a voice that resembles the actor, and keeps it.

- :mod:`.world` — WORLD vocoder pitch map and formant warp (pyworld);
- :mod:`.bank` — precomputed GE2E embeddings of the 54 Kokoro voices (or, without npm, of
  blends of the five PyPI ones), at several pitches and formant ratios;
- :mod:`.profile` — an actor's profile (embedding, F0, gender) and the voice chosen;
- :mod:`.library` — saved profiles in ``voices/profiles`` reused across scenes;
- :mod:`.synth` — a synthesizer that speaks with matched voices;
- :mod:`.scene` — the pipeline stages (diarize, profile, voices per speaker).

The rule, in order (details in :func:`.profile.choose_voice` and :func:`.scene.speaker_voice_id`):
a speaker's voice is the one the user picked; else, with voice matching, the voice chosen
for the actor among the voices of the actor's gender (never the other), the dub language's
own voices first, kept only if it beats the gender's default voice on the half of the
actor's speech it was not chosen on; else the default voice of the speaker's gender
(``voices/presets.json``, chosen by read-back CER in ``bench/voices.py``). Two characters
of a scene never get the same voice while another candidate is left; an actor saved to
the library gets the same voice in the next scene.
"""
