"""Voice matching: every speaker gets a voice that resembles the actor, and keeps it.

- :mod:`.world` — WORLD vocoder pitch map and formant warp (pyworld);
- :mod:`.bank` — precomputed Kokoro style-vector blends with their GE2E embeddings;
- :mod:`.profile` — an actor's profile (embedding, F0, gender) and the voice chosen;
- :mod:`.library` — saved profiles in ``voices/profiles`` reused across scenes;
- :mod:`.synth` — a synthesizer that speaks with matched voices;
- :mod:`.scene` — the pipeline stages (diarize, profile, voices per speaker).
"""
