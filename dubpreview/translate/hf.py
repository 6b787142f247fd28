"""Hugging Face ``transformers`` seq2seq translation: Marian (opus-mt), NLLB-200, M2M100.

The model is named by a hub id (``Helsinki-NLP/opus-mt-en-de``, ``facebook/nllb-200-distilled-600M``)
or a local folder saved with ``save_pretrained``; it is loaded with ``AutoTokenizer`` and
``AutoModelForSeq2SeqLM`` on first use. No weights ship with this project (no registry
carries any, see ``shared/models.md``): users with internet download them once, e.g.
``huggingface-cli download Helsinki-NLP/opus-mt-en-de``, and can then run with
``HF_HUB_OFFLINE=1``, which this module honours by loading from the local cache only.

Language handling by family (detected from the tokenizer class):

* NLLB-200: source set as ``tokenizer.src_lang`` and the target forced as the first
  generated token, both as FLORES-200 codes (``en`` -> ``eng_Latn``, ``pt`` -> ``por_Latn``);
* M2M100: the same with its own ISO 639-1 style codes (``pt``), via ``get_lang_id``;
* Marian: one model per pair, nothing to set; a multi-target Marian model (its vocabulary
  has ``>>por<<``-style tokens) gets the target token prefixed to each input.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dubpreview import languages
from dubpreview.errors import BackendUnavailable, DubError
from dubpreview.records import Segment

NLLB_CODES: dict[str, str] = {
    "en": "eng_Latn", "pt": "por_Latn", "es": "spa_Latn", "fr": "fra_Latn", "it": "ita_Latn",
    "de": "deu_Latn", "cs": "ces_Latn", "nl": "nld_Latn", "pl": "pol_Latn", "ru": "rus_Cyrl",
    "sv": "swe_Latn", "bg": "bul_Cyrl", "sl": "slv_Latn", "hi": "hin_Deva", "ja": "jpn_Jpan",
    "zh": "zho_Hans", "ko": "kor_Hang", "ar": "arb_Arab", "tr": "tur_Latn", "uk": "ukr_Cyrl",
    "ca": "cat_Latn", "da": "dan_Latn", "fi": "fin_Latn", "el": "ell_Grek", "he": "heb_Hebr",
    "hu": "hun_Latn", "ro": "ron_Latn", "no": "nob_Latn", "sk": "slk_Latn", "hr": "hrv_Latn",
    "id": "ind_Latn", "vi": "vie_Latn", "th": "tha_Thai", "fa": "pes_Arab", "gl": "glg_Latn",
    "eu": "eus_Latn", "lt": "lit_Latn", "lv": "lvs_Latn", "et": "est_Latn", "ms": "zsm_Latn",
    "sr": "srp_Cyrl", "bn": "ben_Beng", "ta": "tam_Taml", "ur": "urd_Arab", "sw": "swh_Latn",
}
"""ISO 639-1 -> NLLB-200 (FLORES-200) language code. The first three letters are the
ISO 639-3 code that multi-target Marian models use in their ``>>xxx<<`` tokens."""

BATCH = 16
"""Lines per ``generate`` call: bounds memory on long scenes."""


def _offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to a true value (as huggingface_hub reads it)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


class TransformersTranslator:
    """:class:`~dubpreview.translate.base.Translator` over a transformers seq2seq model.

    Args:
        model: hub id or local folder.
        source, target: ISO 639-1 codes of the one pair this instance translates.
        num_beams: beam width for :meth:`translate`.
        device: torch device (``"cpu"``, ``"cuda"``).

    Nothing is imported or loaded until the first translation.
    """

    name = "transformers"
    rule = "sentences"
    """How the translations are made (in the translation cache key): whole sentences
    (:mod:`dubpreview.translate.sentences`)."""

    def __init__(self, model: str, source: str, target: str, num_beams: int = 4, device: str = "cpu"):
        self.model_name = str(model)
        self.source = languages.normalize(source)
        self.target = languages.normalize(target)
        self.num_beams = num_beams
        self.device = device
        self._tokenizer = None
        self._model = None
        self._gen_kwargs: dict = {}
        self._prefix = ""

    def pairs(self) -> set[tuple[str, str]]:
        """``{(source, target)}``: the pair given at construction."""
        return {(self.source, self.target)}

    # -- loading -----------------------------------------------------------------------

    def _load_pretrained(self):
        """(tokenizer, model) from the folder or hub id, honouring ``HF_HUB_OFFLINE``.

        Raises:
            BackendUnavailable: transformers/torch are not installed.
            DubError: a hub id that is not in the local cache while offline (or unreachable),
                or a folder that does not hold a seq2seq model.
        """
        try:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        except ImportError:
            raise BackendUnavailable("the transformers translator needs the 'transformers', 'torch' and "
                                     "'sentencepiece' packages; pip install transformers sentencepiece torch") from None
        local = Path(self.model_name).expanduser()
        is_dir = local.is_dir()
        where = str(local) if is_dir else self.model_name
        opts = {"local_files_only": True} if (is_dir or _offline()) else {}
        try:
            tokenizer = AutoTokenizer.from_pretrained(where, **opts)
            model = AutoModelForSeq2SeqLM.from_pretrained(where, **opts)
        except (OSError, ValueError, KeyError) as exc:
            if is_dir:
                raise DubError(f"the folder {local} does not hold a translation model transformers can load "
                               f"({type(exc).__name__}); save one there with save_pretrained") from None
            raise DubError(f"the translation model '{self.model_name}' is not available offline; download it first "
                           f"(huggingface-cli download {self.model_name}) or pass a local model folder") from None
        return tokenizer, model.to(self.device).eval()

    def _configure_languages(self, tokenizer) -> None:
        """Set source language and forced target token for NLLB/M2M100, or the ``>>xxx<<``
        prefix of a multi-target Marian model.

        Raises:
            DubError: the model does not know the source or target language.
        """
        kind = type(tokenizer).__name__.lower()
        if "nllb" in kind:
            src, trg = NLLB_CODES.get(self.source), NLLB_CODES.get(self.target)
            ids = [tokenizer.convert_tokens_to_ids(c) if c else None for c in (src, trg)]
            if None in ids or tokenizer.unk_token_id in ids:
                raise DubError(f"the NLLB model {self.model_name} has no code for {self.source}->{self.target}; "
                               f"choose another --translator")
            tokenizer.src_lang = src
            self._gen_kwargs = {"forced_bos_token_id": ids[1]}
        elif "m2m100" in kind:
            try:
                tokenizer.src_lang = self.source
                self._gen_kwargs = {"forced_bos_token_id": tokenizer.get_lang_id(self.target)}
            except (KeyError, ValueError):
                raise DubError(f"the M2M100 model {self.model_name} does not do {self.source}->{self.target}; "
                               f"choose another --translator") from None
        else:
            self._configure_marian(tokenizer)

    def _configure_marian(self, tokenizer) -> None:
        """Prefix ``>>xxx<<`` when the vocabulary has target-language tokens (multi-target Marian)."""
        codes = [t for t in tokenizer.get_vocab() if t.startswith(">>") and t.endswith("<<")]
        if not codes:
            return
        want = f">>{NLLB_CODES.get(self.target, self.target)[:3]}<<"
        if want not in codes:
            raise DubError(f"the multilingual model {self.model_name} has no target token {want}; "
                           f"choose a model that translates into {self.target}")
        self._prefix = want + " "

    def load(self) -> None:
        """Load tokenizer and model once (also done by the first translation).

        Raises:
            DubError, BackendUnavailable: see :meth:`_load_pretrained` and :meth:`_configure_languages`.
        """
        if self._model is None:
            tokenizer, model = self._load_pretrained()
            self._configure_languages(tokenizer)
            self._tokenizer, self._model = tokenizer, model

    # -- generation --------------------------------------------------------------------

    def _generate(self, texts: list[str], num_beams: int, num_return: int):
        """Run ``generate`` on one batch; returns the generate output (with sequence scores)."""
        import torch

        enc = self._tokenizer([self._prefix + t for t in texts], return_tensors="pt", padding=True,
                              truncation=True).to(self.device)
        max_new = min(512, 2 * enc["input_ids"].shape[1] + 10)  # a translation rarely doubles in tokens
        with torch.inference_mode():
            return self._model.generate(**enc, num_beams=num_beams, num_return_sequences=num_return,
                                        max_new_tokens=max_new, output_scores=True,
                                        return_dict_in_generate=True, **self._gen_kwargs)

    def _decode(self, sequences) -> list[str]:
        return [t.strip() for t in self._tokenizer.batch_decode(sequences, skip_special_tokens=True)]

    def translate_texts(self, texts: list[str]) -> list[str]:
        """One translation per text (beam search, ``num_beams``); blank text gives ``""``."""
        self.load()
        out = ["" for _ in texts]
        todo = [i for i, t in enumerate(texts) if t and t.strip()]
        for b in range(0, len(todo), BATCH):
            idx = todo[b:b + BATCH]
            gen = self._generate([" ".join(texts[i].split()) for i in idx], self.num_beams, 1)
            for i, text in zip(idx, self._decode(gen.sequences)):
                out[i] = text
        return out

    def translate(self, segments: list[Segment], source: str, target: str,
                  audio: np.ndarray | None = None) -> list[str]:
        """Translate each segment's ``text``, a sentence that runs over several lines as one
        (:func:`~dubpreview.translate.sentences.translate_sentences`); ``audio`` is ignored.

        Raises:
            BackendUnavailable: (source, target) is not this instance's pair.
            DubError: the model cannot be loaded (see :meth:`load`).
        """
        pair = (languages.normalize(source), languages.normalize(target))
        if pair not in self.pairs():
            raise BackendUnavailable(f"this transformers translator is set up for {self.source}->{self.target}, "
                                     f"not {pair[0]}->{pair[1]}; configure a model for that pair")
        from dubpreview.translate.sentences import translate_sentences

        return translate_sentences(self.translate_texts, segments)

    def translate_nbest(self, texts: list[str], n: int) -> list[list[tuple[str, float]]]:
        """The ``n`` best beam candidates per text, best first, with their sequence scores.

        The score is transformers' ``sequences_scores``: the beam's summed token
        log-probability divided by its length (``length_penalty=1.0``), so higher is
        better and scores compare across lengths. Beam width is ``max(n, num_beams)``.
        Different token sequences can decode to the same string, so strings may repeat.
        A blank text gives ``n`` copies of ``("", 0.0)``.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        self.load()
        out: list[list[tuple[str, float]]] = [[("", 0.0)] * n for _ in texts]
        todo = [i for i, t in enumerate(texts) if t and t.strip()]
        for b in range(0, len(todo), BATCH):
            idx = todo[b:b + BATCH]
            gen = self._generate([" ".join(texts[i].split()) for i in idx], max(n, self.num_beams), n)
            strings, scores = self._decode(gen.sequences), gen.sequences_scores.tolist()
            for j, i in enumerate(idx):
                cands = list(zip(strings[j * n:(j + 1) * n], scores[j * n:(j + 1) * n]))
                out[i] = sorted(cands, key=lambda c: -c[1])
        return out
